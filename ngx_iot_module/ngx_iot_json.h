
/*
 * Copyright (C) nginx-iot authors
 *
 * Tags: a JSON object of strings, checked, merged and read
 * (ngx_iot_json.c).
 */


#ifndef _NGX_IOT_JSON_H_INCLUDED_
#define _NGX_IOT_JSON_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <jansson.h>
#include "ngx_iot.h"
#include "ngx_iot_entity.h"


ngx_int_t ngx_iot_tags_check(json_t *tags, const char **err);
ngx_iot_rc_e ngx_iot_tags_merge(ngx_iot_text_t *cur, json_t *patch,
    ngx_pool_t *pool, ngx_str_t *out);
ngx_int_t ngx_iot_tags_get(ngx_iot_text_t *tags, ngx_str_t *name,
    ngx_pool_t *pool, ngx_str_t *value);


#endif /* _NGX_IOT_JSON_H_INCLUDED_ */
