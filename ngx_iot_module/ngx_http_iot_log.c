
/*
 * Copyright (C) nginx-iot authors
 *
 * What the access log can say of a request of an iot_api location: the
 * dialect that served it ($iot_dialect), and the collection and device it
 * acted on ($iot_collection_id, $iot_device_id), in the collections
 * dialect's id form whatever the dialect.  The generic handler notes the
 * dialect; a dialect notes the ids with ngx_http_iot_acted_on() where it
 * has found them.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_iot.h"
#include "ngx_http_iot_dialect.h"


#define NGX_HTTP_IOT_LOG_DIALECT     0
#define NGX_HTTP_IOT_LOG_COLLECTION  1
#define NGX_HTTP_IOT_LOG_DEVICE      2


static ngx_int_t ngx_http_iot_log_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);


static ngx_http_variable_t  ngx_http_iot_log_vars[] = {

    { ngx_string("iot_dialect"), NULL, ngx_http_iot_log_variable,
      NGX_HTTP_IOT_LOG_DIALECT, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("iot_collection_id"), NULL, ngx_http_iot_log_variable,
      NGX_HTTP_IOT_LOG_COLLECTION, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("iot_device_id"), NULL, ngx_http_iot_log_variable,
      NGX_HTTP_IOT_LOG_DEVICE, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    ngx_http_null_variable
};


ngx_int_t
ngx_http_iot_log_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_iot_log_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


void
ngx_http_iot_acted_on(ngx_http_request_t *r, uint64_t cid, uint64_t did)
{
    ngx_http_iot_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_iot_module);

    if (ctx == NULL) {
        return;
    }

    if (cid) {
        ctx->collection_id = cid;
    }

    if (did) {
        ctx->device_id = did;
    }
}


static ngx_int_t
ngx_http_iot_log_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char              *p;
    uint64_t             id;
    ngx_http_iot_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_iot_module);

    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;
    v->len = 0;
    v->data = (u_char *) "";

    if (ctx == NULL || ctx->dialect == NULL) {
        return NGX_OK;
    }

    if (data == NGX_HTTP_IOT_LOG_DIALECT) {
        v->len = ctx->dialect->name.len;
        v->data = ctx->dialect->name.data;
        return NGX_OK;
    }

    id = (data == NGX_HTTP_IOT_LOG_COLLECTION) ? ctx->collection_id
                                               : ctx->device_id;

    if (id == 0) {
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, NGX_IOT_ID_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    v->data = p;
    v->len = ngx_iot_id_encode(p, id) - p;

    return NGX_OK;
}
