
/*
 * Copyright (C) nginx-iot authors
 *
 * The dialects "iot_api <name>" can pick: one line each.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_iot_dialect.h"


extern ngx_http_iot_dialect_t  ngx_http_iot_collections_dialect;
extern ngx_http_iot_dialect_t  ngx_http_iot_things_dialect;
extern ngx_http_iot_dialect_t  ngx_http_iot_iotda_dialect;


ngx_http_iot_dialect_t  *ngx_http_iot_dialects[] = {
    &ngx_http_iot_collections_dialect,
    &ngx_http_iot_things_dialect,
    &ngx_http_iot_iotda_dialect,
    NULL
};
