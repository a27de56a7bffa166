
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
static void ngx_http_iot_body_free(void *data);
static void ngx_http_iot_answered(ngx_iot_wait_t *wait);


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

    ctx->dialect = d;     /* $iot_dialect too (ngx_http_iot_log.c) */

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

    if (d->own_body && d->own_body(r, ctx)) {
        /* the route reads the body as it came (a signature covers it) */
        return ctx->route->handler(r, ctx);
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
    ngx_pool_cleanup_t  *cln;
    ngx_http_iot_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_iot_module);

    /* the body lives as long as the request: a write may still need it */

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    cln->handler = ngx_http_iot_body_free;
    cln->data = ctx;

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

    ngx_http_finalize_request(r, ctx->route->handler(r, ctx));
}


static void
ngx_http_iot_body_free(void *data)
{
    ngx_http_iot_ctx_t  *ctx = data;

    json_decref(ctx->body);
    ctx->body = NULL;
}


ngx_iot_wait_t *
ngx_http_iot_waiter(ngx_http_request_t *r, ngx_http_iot_answer_pt answer,
    void *data)
{
    ngx_http_iot_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_iot_module);

    ctx->answer = answer;
    ctx->answer_data = data;

    ctx->wait.handler = ngx_http_iot_answered;
    ctx->wait.data = r;
    ctx->wait.pool = r->pool;

    return &ctx->wait;
}


/*
 * A posted write keeps the request (and its pool) until it is answered;
 * the event loop goes on meanwhile.
 */

ngx_int_t
ngx_http_iot_answer(ngx_http_request_t *r, ngx_iot_rc_e rc)
{
    ngx_http_iot_ctx_t  *ctx;

    if (rc == NGX_IOT_QUEUED) {
        r->main->count++;
        r->main->blocked++;
        return NGX_DONE;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_iot_module);

    return ctx->answer(r, rc);
}


static void
ngx_http_iot_answered(ngx_iot_wait_t *wait)
{
    ngx_connection_t    *c;
    ngx_http_request_t  *r;
    ngx_http_iot_ctx_t  *ctx;

    r = wait->data;
    c = r->connection;
    ctx = ngx_http_get_module_ctx(r, ngx_http_iot_module);

    r->main->blocked--;

    ngx_http_finalize_request(r, ctx->answer(r, wait->rc));
    ngx_http_run_posted_requests(c);
}


/*
 * A validator of any dialect notes what is wrong (NGX_DECLINED); the
 * request is then answered with it once, in the dialect's error format.
 */

ngx_int_t
ngx_http_iot_invalid(ngx_http_request_t *r, ngx_uint_t status,
    const char *message)
{
    ngx_http_iot_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_iot_module);

    ctx->status = status;
    ctx->message = message;

    return NGX_DECLINED;
}


ngx_int_t
ngx_http_iot_reject(ngx_http_request_t *r)
{
    ngx_http_iot_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_iot_module);

    return ngx_http_iot_error(r, ctx->status, ctx->message);
}
