
/*
 * Copyright (C) nginx-iot authors
 *
 * The generic content handler of an iot_api location: it runs every
 * request through the location's dialect table (ngx_http_iot_dialect.h):
 * route, credentials, method, access, body, then the route's handler.
 * Refusals are answered in the dialect's error format.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_iot.h"
#include "ngx_http_iot_dialect.h"


static ngx_int_t ngx_http_iot_refuse(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx);
static void ngx_http_iot_body_handler(ngx_http_request_t *r);


ngx_int_t
ngx_http_iot_handler(ngx_http_request_t *r)
{
    ngx_int_t                 rc;
    ngx_table_elt_t          *allow;
    ngx_http_iot_ctx_t       *ctx;
    ngx_http_iot_dialect_t   *d;
    ngx_http_iot_loc_conf_t  *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_iot_module);
    d = lcf->dialect;

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_iot_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->dialect = d;

    ngx_http_set_ctx(r, ctx, ngx_http_iot_module);

    if (ngx_http_iot_split_path(r, ctx) == NGX_OK) {
        ctx->route = d->route(r, ctx);
    }

    rc = d->credentials(r, ctx);

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_DECLINED) {
        return ngx_http_iot_refuse(r, ctx);
    }

    if (ctx->route == NULL) {
        ngx_http_discard_request_body(r);
        return ngx_http_iot_error(r, NGX_HTTP_NOT_FOUND, "no such resource");
    }

    if (!(r->method & ctx->route->methods)) {
        ngx_http_discard_request_body(r);

        allow = ngx_list_push(&r->headers_out.headers);
        if (allow == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        allow->hash = 1;
        ngx_str_set(&allow->key, "Allow");
        allow->value = ctx->route->allow;

        return ngx_http_iot_error(r, NGX_HTTP_NOT_ALLOWED,
                                  "method not allowed on this resource");
    }

    rc = d->authorize(r, ctx);

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_DECLINED) {
        return ngx_http_iot_refuse(r, ctx);
    }

    if (r->method & d->body_methods) {

        if (ngx_http_iot_body_too_large(r)) {
            ngx_http_discard_request_body(r);
            return ngx_http_iot_error(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                      "the body is larger than "
                                      "client_max_body_size");
        }

        r->request_body_in_single_buf = 1;

        rc = ngx_http_read_client_request_body(r, ngx_http_iot_body_handler);

        if (rc == NGX_HTTP_REQUEST_ENTITY_TOO_LARGE) {
            return ngx_http_iot_error(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                      "the body is larger than "
                                      "client_max_body_size");
        }

        if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
            return rc;
        }

        return NGX_DONE;
    }

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    return ctx->route->handler(r, ctx);
}


static ngx_int_t
ngx_http_iot_refuse(ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx)
{
    ngx_http_discard_request_body(r);

    return ngx_http_iot_error(r, ctx->status, ctx->message);
}


static void
ngx_http_iot_body_handler(ngx_http_request_t *r)
{
    ngx_int_t            rc;
    const char          *err;
    ngx_http_iot_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_iot_module);

    rc = ngx_http_iot_read_json(r, &ctx->body, &err);

    if (rc == NGX_ERROR) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (rc == NGX_DECLINED) {
        ngx_http_finalize_request(r,
                                  ngx_http_iot_error(r, NGX_HTTP_BAD_REQUEST,
                                                     err));
        return;
    }

    rc = ctx->route->handler(r, ctx);

    json_decref(ctx->body);
    ctx->body = NULL;

    ngx_http_finalize_request(r, rc);
}
