
/*
 * Copyright (C) nginx-iot authors
 *
 * The things dialect (KPN Things Devices API): what its files share.
 *
 *   ngx_http_iot_things.c          the table, routes, credentials (Bearer)
 *                                  and scopes, problem details, ids
 *   ngx_http_iot_things_devices.c  /devices: list, create, get, PUT,
 *                                  DELETE, and the JSON of a device
 *   ngx_http_iot_things_adapters.c /devices/{id}/network-adapters
 *   ngx_http_iot_things_groups.c   /device-groups, their devices, and
 *                                  /devices/{id}/device-groups
 *   ngx_http_iot_things_ingest.c   SenML from internet devices
 */


#ifndef _NGX_HTTP_IOT_THINGS_H_INCLUDED_
#define _NGX_HTTP_IOT_THINGS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_iot.h"
#include "ngx_http_iot_dialect.h"


/* the longest name, description and barcode, in characters */
#define NGX_HTTP_IOT_THINGS_TEXT_MAX   255

/* a time as the dialect writes it: 2024-12-31T23:00:00.000Z */
#define NGX_HTTP_IOT_THINGS_TIME_LEN   (sizeof("2024-12-31T23:00:00.000Z") - 1)

/* lists: limit's default and maximum */
#define NGX_HTTP_IOT_THINGS_LIMIT      50
#define NGX_HTTP_IOT_THINGS_LIMIT_MAX  1000

/* the query arguments a list's links repeat, at most */
#define NGX_HTTP_IOT_THINGS_ARGS_MAX   1024

/*
 * A list's cursor: its bytes (a version, flags, the sort, the id, the
 * times and the name of a row) and their base64url text, at most
 */
#define NGX_HTTP_IOT_THINGS_CURSOR_HEAD  32
#define NGX_HTTP_IOT_THINGS_CURSOR_MAX                                        \
    ((NGX_HTTP_IOT_THINGS_CURSOR_HEAD + NGX_IOT_STORE_NAME_MAX + 2) / 3 * 4)


extern ngx_http_iot_dialect_t  ngx_http_iot_things_dialect;


/* a list's filters, and the arguments its next link repeats */
typedef enum {
    NGX_HTTP_IOT_THINGS_LIST_DEVICES = 0,
    NGX_HTTP_IOT_THINGS_LIST_GROUPS,
    NGX_HTTP_IOT_THINGS_LIST_LINKS        /* createdBefore, createdSince */
} ngx_http_iot_things_list_e;

/* which list a cursor is of (a flag of its second byte) */
#define NGX_HTTP_IOT_THINGS_CURSOR_DEVICES  0x00
#define NGX_HTTP_IOT_THINGS_CURSOR_GROUPS   0x04
#define NGX_HTTP_IOT_THINGS_CURSOR_MEMBERS  0x08    /* a group's devices */
#define NGX_HTTP_IOT_THINGS_CURSOR_LINKS    0x10    /* a device's groups */
#define NGX_HTTP_IOT_THINGS_CURSOR_LISTS    0x1c

typedef struct {
    ngx_http_iot_things_list_e   what;
    ngx_uint_t                   list;      /* its cursors' flag */
    ngx_str_t                    q;
    ngx_str_t                    barcode;
    ngx_array_t                  specs;     /* of u_char[16] */
    uint64_t                     times[4];  /* ms: createdBefore, Since,
                                               modifiedBefore, Since */
    ngx_uint_t                   set;       /* which times are given */
    ngx_uint_t                   none;      /* nothing can match */
    uint64_t                     team;      /* clientId given; 0: any */
    ngx_str_t                    args;      /* without the cursor */

    /* keyed pages (the store checks the filters) */
    ngx_iot_store_filter_t       store;
    ngx_iot_store_sort_t         sort;

    /* the cursor given: the page after (or before) pos; NULL: none */
    ngx_iot_store_pos_t         *pos;
    ngx_uint_t                   before;
    ngx_uint_t                   inclusive;

    /* the page's links: is there a page before it, after its bound? */
    ngx_uint_t                   prev;
    ngx_uint_t                   next;
    ngx_iot_store_pos_t         *prev_at;   /* previous: before it */
    ngx_uint_t                   prev_inclusive;
} ngx_http_iot_things_filter_t;


/* ngx_http_iot_things.c */
ngx_int_t ngx_http_iot_things_rc_error(ngx_http_request_t *r,
    ngx_iot_rc_e rc, const char *what);
ngx_uint_t ngx_http_iot_things_reaches(ngx_iot_principal_t *who,
    uint64_t cid, ngx_uint_t write);
ngx_int_t ngx_http_iot_things_device_ref(ngx_http_request_t *r,
    ngx_str_t *ref, ngx_iot_device_t *d);
ngx_int_t ngx_http_iot_things_project(ngx_http_request_t *r, u_char *s,
    size_t len, uint64_t *cid);
ngx_int_t ngx_http_iot_things_client(ngx_iot_principal_t *who, u_char *s,
    size_t len, uint64_t *team);
ngx_int_t ngx_http_iot_things_client_of(ngx_http_request_t *r,
    uint64_t team, uint64_t cid);
ngx_int_t ngx_http_iot_things_client_put(u_char *p, uint64_t cid,
    u_char **out);
u_char *ngx_http_iot_things_time(u_char *p, uint64_t ms);
ngx_int_t ngx_http_iot_things_parse_time(u_char *s, size_t len,
    uint64_t *ms);
ngx_buf_t *ngx_http_iot_things_error(ngx_http_request_t *r,
    ngx_uint_t status, const char *message);
ngx_int_t ngx_http_iot_things_send_json(ngx_http_request_t *r,
    ngx_uint_t status, json_t *json);

/* ngx_http_iot_things_devices.c */
ngx_int_t ngx_http_iot_things_devices(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx);
ngx_int_t ngx_http_iot_things_device(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx);
ngx_int_t ngx_http_iot_things_device_put(ngx_http_request_t *r,
    ngx_iot_device_t *d, ngx_buf_t *b, ngx_buf_t **out);
u_char *ngx_http_iot_things_list_tail(u_char *p, ngx_http_iot_list_t *list,
    ngx_uint_t more);
u_char *ngx_http_iot_things_cursor(u_char *p, ngx_http_iot_list_t *list);
ngx_int_t ngx_http_iot_things_text(ngx_http_request_t *r, json_t *body,
    const char *name, ngx_uint_t required, ngx_uint_t nonblank,
    ngx_str_t *out);
ngx_int_t ngx_http_iot_things_list_args(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx, ngx_http_iot_things_filter_t *f);
ngx_int_t ngx_http_iot_things_keyed(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx, ngx_http_iot_things_filter_t *f);
ngx_uint_t ngx_http_iot_things_scope(ngx_http_iot_ctx_t *ctx,
    uint64_t *scope);

/* ngx_http_iot_things_adapters.c */
ngx_int_t ngx_http_iot_things_adapters(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx);

/* ngx_http_iot_things_ingest.c */
ngx_int_t ngx_http_iot_things_ingest(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx);

/* ngx_http_iot_things_groups.c */
ngx_int_t ngx_http_iot_things_groups(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx);
ngx_int_t ngx_http_iot_things_group(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx);
ngx_int_t ngx_http_iot_things_members(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx);
ngx_int_t ngx_http_iot_things_links(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx);


#endif /* _NGX_HTTP_IOT_THINGS_H_INCLUDED_ */
