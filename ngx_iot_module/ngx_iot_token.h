
/*
 * Copyright (C) nginx-iot authors
 *
 * API tokens: their hash, the name a token is known by, the admin token
 * file (ngx_iot_token.c).
 */


#ifndef _NGX_IOT_TOKEN_H_INCLUDED_
#define _NGX_IOT_TOKEN_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_iot.h"


void ngx_iot_token_hash(u_char *token, size_t len, u_char *hash);

/* at a process's exit: what ngx_iot_token_hash() keeps is given back */
void ngx_iot_token_release(void);

/* a token by itself or by its public prefix; NGX_DECLINED: no such token */
ngx_int_t ngx_iot_token_find_hash(ngx_cycle_t *cycle, ngx_str_t *name,
    u_char *hash, ngx_log_t *log);

ngx_int_t ngx_iot_admin_token_load(ngx_cycle_t *cycle, ngx_iot_conf_t *conf);


#endif /* _NGX_IOT_TOKEN_H_INCLUDED_ */
