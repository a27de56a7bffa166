
/*
 * Copyright (C) nginx-iot authors
 *
 * What the HTTP dialects share: routing input, request bodies, JSON
 * answers, streamed lists and live streams.  Nothing here knows a
 * dialect: each is a table (ngx_http_iot_dialect.h) that the generic
 * handler runs.
 */


#ifndef _NGX_HTTP_IOT_H_INCLUDED_
#define _NGX_HTTP_IOT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_iot.h"


#define NGX_HTTP_IOT_MAX_SEGMENTS     8
#define NGX_HTTP_IOT_LIST_MAX         10000


typedef struct ngx_http_iot_dialect_s  ngx_http_iot_dialect_t;
typedef struct ngx_http_iot_route_s    ngx_http_iot_route_t;


typedef struct {
    ngx_http_iot_dialect_t    *dialect;           /* iot_api; NULL: none */
    ngx_http_iot_dialect_t    *errors;            /* iot_api_errors */
    ngx_msec_t                 ws_keepalive;      /* iot_ws_keepalive */
    size_t                     ws_max_message;    /* iot_ws_max_message */
    size_t                     ws_send_buffer;    /* iot_ws_send_buffer */
    ngx_uint_t                 message_port;  /* iot_iotda_message_port */
    ngx_uint_t                 coap_downlink;  /* iot_iotda_coap_downlink */
} ngx_http_iot_loc_conf_t;


typedef struct ngx_http_iot_list_s  ngx_http_iot_list_t;

/*
 * Renders one row (the store's typed row: ngx_iot_collection_t *, ...) into
 * b: NGX_DECLINED skips a row the caller may not see, NGX_AGAIN asks for a
 * fresh buffer.  With b == NULL it only tells whether the caller may see
 * the row.
 */
typedef ngx_int_t (*ngx_http_iot_list_row_pt)(ngx_http_request_t *r,
    ngx_http_iot_list_t *list, void *row, ngx_buf_t *b);

struct ngx_http_iot_list_s {
    ngx_http_request_t        *request;
    ngx_iot_store_t           *store;       /* NULL: the registry's */
    ngx_pool_t                *tmp;         /* emptied for every batch */
    ngx_iot_store_cursor_t     cursor;      /* what is listed, and where */
    ngx_http_iot_list_row_pt   row;
    ngx_str_t                  head;        /* the envelope's opening */
    ngx_uint_t                 limit;       /* 0: no limit */
    ngx_uint_t                 sent;

    unsigned                   head_sent:1;
    unsigned                   done:1;

    /* the last row sent, for the dialect's cursor */
    ngx_iot_store_pos_t       *last;        /* keyed scans, when set */
    uint64_t                   sent_id;
    u_char                     sent_key[NGX_IOT_TOKEN_HINT_LEN];
    size_t                     sent_key_len;

    /* buffers are reused once the client has taken them */
    ngx_chain_t               *free;
    ngx_chain_t               *busy;
};


/*
 * The answer to a registry write, once it is durable (or failed): rc and,
 * when it succeeded, the entity in ctx->wait.out (ngx_iot_registry.h).
 */
typedef ngx_int_t (*ngx_http_iot_answer_pt)(ngx_http_request_t *r,
    ngx_iot_rc_e rc);


typedef struct {
    ngx_http_iot_dialect_t    *dialect;
    ngx_http_iot_route_t      *route;       /* NULL: no such resource */
    ngx_buf_t                 *replacement; /* for an nginx error page */
    ngx_uint_t                 status;      /* what a validator refused */
    const char                *message;
    ngx_str_t                  path;
    ngx_str_t                  seg[NGX_HTTP_IOT_MAX_SEGMENTS];
    ngx_uint_t                 nseg;
    ngx_iot_principal_t        who;
    json_t                    *body;
    ngx_http_iot_list_t       *list;        /* a list's (list_new) */
    ngx_iot_wait_t             wait;        /* a registry write's */
    ngx_http_iot_answer_pt     answer;
    void                      *answer_data;
    uint64_t                   collection_id;   /* acted on, for the log */
    uint64_t                   device_id;
} ngx_http_iot_ctx_t;


typedef void (*ngx_http_iot_body_pt)(ngx_http_request_t *r);


extern ngx_module_t  ngx_http_iot_module;


ngx_int_t ngx_http_iot_split_path(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx);
ngx_str_t *ngx_http_iot_header(ngx_http_request_t *r, ngx_str_t *name);
ngx_int_t ngx_http_iot_body_too_large(ngx_http_request_t *r);
ngx_int_t ngx_http_iot_read_json(ngx_http_request_t *r, json_t **json,
    const char **err);
ngx_int_t ngx_http_iot_send(ngx_http_request_t *r, ngx_uint_t status,
    ngx_buf_t *b);
ngx_int_t ngx_http_iot_list_new(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx);
ngx_int_t ngx_http_iot_list_start(ngx_http_request_t *r,
    ngx_http_iot_list_t *list);
ngx_int_t ngx_http_iot_list_cleanup(ngx_http_request_t *r,
    ngx_http_iot_list_t *list);
ngx_int_t ngx_http_iot_send_chain(ngx_http_request_t *r, ngx_uint_t status,
    ngx_chain_t *out);

/* the generic content handler of an iot_api location */
ngx_int_t ngx_http_iot_handler(ngx_http_request_t *r);

/*
 * A registry write of the request: the wait to give the registry, and
 * what the route returns with the registry's result code (the request
 * waits for a write that was posted, and is answered by answer).
 */
/*
 * A secret the URL carries (a token in the query or the path): what nginx
 * logs of the request has it replaced by "[redacted]" (ngx_http_iot_redact.c).
 */
ngx_int_t ngx_http_iot_redact(ngx_http_request_t *r, ngx_str_t *secret);

/* a validator's refusal, noted (NGX_DECLINED) and then answered */
ngx_int_t ngx_http_iot_invalid(ngx_http_request_t *r, ngx_uint_t status,
    const char *message);
ngx_int_t ngx_http_iot_reject(ngx_http_request_t *r);

ngx_iot_wait_t *ngx_http_iot_waiter(ngx_http_request_t *r,
    ngx_http_iot_answer_pt answer, void *data);
ngx_int_t ngx_http_iot_answer(ngx_http_request_t *r, ngx_iot_rc_e rc);

/* answers status with message, in the request's dialect */
ngx_int_t ngx_http_iot_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *message);

/*
 * ngx_http_iot_from.c: upgrades to a WebSocket that streams the data of
 * collection cid (of device did alone when did != 0), each message
 * rendered by the dialect; both exist and the caller may read them.
 * Returns what the content handler returns.
 */
ngx_int_t ngx_http_iot_stream(ngx_http_request_t *r, uint64_t cid,
    uint64_t did);

/*
 * ngx_http_iot_log.c: the collection and device (0: not known) the
 * request acts on, for $iot_collection_id and $iot_device_id; and the
 * variables themselves with $iot_dialect
 */
void ngx_http_iot_acted_on(ngx_http_request_t *r, uint64_t cid,
    uint64_t did);
ngx_int_t ngx_http_iot_log_add_variables(ngx_conf_t *cf);

/* ngx_http_iot_metrics.c: "iot_metrics;" */
char *ngx_http_iot_metrics(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);


#endif /* _NGX_HTTP_IOT_H_INCLUDED_ */
