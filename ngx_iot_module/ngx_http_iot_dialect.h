
/*
 * Copyright (C) nginx-iot authors
 *
 * A dialect of the HTTP API is one table.  "iot_api <name>" picks the
 * table whose name matches, and the generic handler (ngx_http_iot_handler.c)
 * runs every request of the location through it:
 *
 *     route        the path's segments to a route (404 when none)
 *     credentials  the request's credentials to a principal (401, 400 ...)
 *     methods      the route's methods, else 405 with its Allow header
 *     authorize    may the principal use the route with this method (403)
 *     body         methods in body_methods: a JSON object, read whole,
 *                  within client_max_body_size (413, 400), unless the
 *                  route reads its body itself (own_body)
 *     handler      the route's handler, with ctx->who, ctx->body
 *
 * Every refusal on the way, and every error nginx answers by itself in
 * the location (the header filter), is rendered by the table's error
 * function and sent with its content type.  Streamed lists end with the
 * table's list_tail (which writes the cursor of the next page); live
 * streams send its keep-alive text and render each data message with its
 * render function, once per message for all its subscribers of a worker.
 *
 * To add a dialect: its own files, one table, one line in
 * ngx_http_iot_dialects.c.  See docs/dialects.md.
 */


#ifndef _NGX_HTTP_IOT_DIALECT_H_INCLUDED_
#define _NGX_HTTP_IOT_DIALECT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_iot.h"
#include "ngx_iot_message.h"


typedef ngx_int_t (*ngx_http_iot_route_pt)(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx);


struct ngx_http_iot_route_s {
    ngx_uint_t                     methods;   /* NGX_HTTP_GET|... */
    ngx_str_t                      allow;     /* Allow: of a 405 */
    ngx_http_iot_route_pt          handler;
    ngx_uint_t                     arg;       /* the handler's, a variant */
};


struct ngx_http_iot_dialect_s {
    ngx_str_t                      name;      /* iot_api <name> */
    ngx_str_t                      content_type;

    /* the route of ctx->seg[0 .. nseg - 1]; NULL: no such resource */
    ngx_http_iot_route_t        *(*route)(ngx_http_request_t *r,
                                          ngx_http_iot_ctx_t *ctx);

    /*
     * Fills ctx->who from the request (ctx->route may be NULL).  NGX_OK;
     * NGX_DECLINED: refused, ctx->status and ctx->message say why;
     * NGX_ERROR.
     */
    ngx_int_t                    (*credentials)(ngx_http_request_t *r,
                                                ngx_http_iot_ctx_t *ctx);

    /* may ctx->who use ctx->route with r->method: as credentials */
    ngx_int_t                    (*authorize)(ngx_http_request_t *r,
                                              ngx_http_iot_ctx_t *ctx);

    ngx_uint_t                     body_methods;  /* a JSON object body */

    /* an error answer: NULL on failure */
    ngx_buf_t                   *(*error)(ngx_http_request_t *r,
                                          ngx_uint_t status,
                                          const char *message);

    /*
     * Lists: the route sets list->head, the opening of its envelope; the
     * engine separates rows with commas and ends the list with list_tail
     * (at most list_tail_max bytes), which closes the envelope and, when
     * more rows follow, writes list_cursor: where the next page starts.
     */
    u_char                      *(*list_tail)(u_char *p,
                                              ngx_http_iot_list_t *list,
                                              ngx_uint_t more);
    size_t                         list_tail_max;
    u_char                      *(*list_cursor)(u_char *p,
                                                ngx_http_iot_list_t *list);

    /* live streams: the keep-alive text frame (empty: a ping) */
    ngx_str_t                      ws_keepalive;

    /* a data message, for live streams (and the dialect's history) */
    ngx_iot_render_pt              render;

    /*
     * A live stream of collection cid opened at path (ctx->path, as
     * authorize left it), checked again when a token changes: who is its
     * token's principal as it is now (the core's part: write, resource).
     * May it still read the stream?  1 or 0; NGX_ERROR.  NULL: a stream
     * only ends when its token is deleted.
     */
    ngx_int_t                    (*stream_allowed)(ngx_iot_principal_t *who,
                                                   uint64_t cid,
                                                   ngx_str_t *path,
                                                   ngx_pool_t *pool);

    /* the content type of errors; empty: content_type */
    ngx_str_t                      error_type;

    /*
     * Does ctx->route read its request's body itself, as bytes (NULL: no
     * route does)?  Its handler then reads it, and answers.
     */
    ngx_uint_t                   (*own_body)(ngx_http_request_t *r,
                                             ngx_http_iot_ctx_t *ctx);

    /*
     * A downlink's new state, for live streams (the message's kind is
     * NGX_IOT_MESSAGE_DOWNLINK); NULL: the dialect's streams do not
     * announce downlinks.
     */
    ngx_iot_render_pt              render_downlink;

    /* what the dialect keeps in a worker, let go at its exit; or NULL */
    void                         (*exit_process)(ngx_cycle_t *cycle);
};


/* ngx_http_iot_dialects.c: every dialect, NULL-terminated */
extern ngx_http_iot_dialect_t  *ngx_http_iot_dialects[];


#endif /* _NGX_HTTP_IOT_DIALECT_H_INCLUDED_ */
