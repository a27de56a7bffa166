
/*
 * Copyright (C) nginx-iot authors
 *
 * The collections dialect (Telenor NB-IoT, "Horde"): what its files share.
 *
 *   ngx_http_iot_collections.c          the table, routes, credentials and
 *                                       scopes, errors, request fields
 *   ngx_http_iot_collections_devices.c  collections, devices, their tags
 *   ngx_http_iot_collections_tokens.c   API tokens
 *   ngx_http_iot_collections_teams.c    users, teams, members, invites
 *   ngx_http_iot_collections_data.c     /data, /from, /to
 *   ngx_http_iot_collections_outputs.c  outputs, their tags, logs, status
 *   ngx_http_iot_collections_render.c   the JSON of every answer and of
 *                                       data messages
 */


#ifndef _NGX_HTTP_IOT_COLLECTIONS_H_INCLUDED_
#define _NGX_HTTP_IOT_COLLECTIONS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_iot.h"
#include "ngx_http_iot_dialect.h"
#include "ngx_iot_downlink.h"


#define NGX_HTTP_IOT_M_GET     (NGX_HTTP_GET|NGX_HTTP_HEAD)
#define NGX_HTTP_IOT_M_ITEM    (NGX_HTTP_IOT_M_GET|NGX_HTTP_PATCH            \
                                |NGX_HTTP_DELETE)
#define NGX_HTTP_IOT_M_LIST    (NGX_HTTP_IOT_M_GET|NGX_HTTP_POST)
#define NGX_HTTP_IOT_M_TAGS    (NGX_HTTP_IOT_M_GET|NGX_HTTP_PATCH)

/* route->arg: the path names a device; the path names one tag */
#define NGX_HTTP_IOT_ARG_DEVICE  0x01
#define NGX_HTTP_IOT_ARG_ONE     0x02

/* room for a rendered entity besides its tags and resource */
#define NGX_HTTP_IOT_ENTITY_LEN  512


extern ngx_http_iot_dialect_t  ngx_http_iot_collections_dialect;


/* ngx_http_iot_collections.c */
ngx_int_t ngx_http_iot_collections_rc_error(ngx_http_request_t *r,
    ngx_iot_rc_e rc, const char *what);
ngx_int_t ngx_http_iot_collections_path_id(ngx_str_t *seg, uint64_t *id);
json_t *ngx_http_iot_collections_field(json_t *body, const char *name);
ngx_int_t ngx_http_iot_collections_ident_field(json_t *body,
    const char *name, uint64_t *key);
ngx_int_t ngx_http_iot_collections_tags_field(ngx_http_request_t *r,
    json_t *body, json_t **tags);
ngx_int_t ngx_http_iot_collections_list_page(ngx_http_request_t *r,
    ngx_http_iot_list_t *list);
ngx_uint_t ngx_http_iot_collections_covers(ngx_iot_principal_t *who,
    u_char *path, size_t len);
ngx_uint_t ngx_http_iot_collections_reaches(ngx_iot_principal_t *who,
    uint64_t cid);
ngx_int_t ngx_http_iot_collections_resource_check(ngx_str_t *resource);
ngx_int_t ngx_http_iot_collections_scope(ngx_iot_principal_t *who,
    ngx_pool_t *pool);

/* ngx_http_iot_collections_devices.c */
ngx_int_t ngx_http_iot_collections_list(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx);
ngx_int_t ngx_http_iot_collections_item(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx);
ngx_int_t ngx_http_iot_collections_devices(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx);
ngx_int_t ngx_http_iot_collections_device(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx);
ngx_int_t ngx_http_iot_collections_tags(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx);

/* ngx_http_iot_collections_tokens.c */
ngx_int_t ngx_http_iot_collections_tokens(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx);
ngx_int_t ngx_http_iot_collections_token(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx);

/* ngx_http_iot_collections_teams.c */
ngx_int_t ngx_http_iot_collections_users(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx);
ngx_int_t ngx_http_iot_collections_profile(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx);
ngx_int_t ngx_http_iot_collections_teams(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx);
ngx_int_t ngx_http_iot_collections_teams_accept(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx);
ngx_int_t ngx_http_iot_collections_team(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx);
ngx_int_t ngx_http_iot_collections_team_tags(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx);
ngx_int_t ngx_http_iot_collections_teams_member(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx);
ngx_int_t ngx_http_iot_collections_teams_invite(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx);

/* ngx_http_iot_collections_data.c */
ngx_int_t ngx_http_iot_collections_from(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx);
ngx_int_t ngx_http_iot_collections_data(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx);
ngx_int_t ngx_http_iot_collections_to(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx);
ngx_int_t ngx_http_iot_collections_downlinks(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx);
ngx_int_t ngx_http_iot_collections_psk(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx);

/* ngx_http_iot_collections_outputs.c */
ngx_int_t ngx_http_iot_collections_outputs(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx);
ngx_int_t ngx_http_iot_collections_output(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx);
ngx_int_t ngx_http_iot_collections_output_info(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx);
ngx_int_t ngx_http_iot_collections_output_tags(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx);

/* ngx_http_iot_collections_render.c */
ngx_buf_t *ngx_http_iot_collections_error(ngx_http_request_t *r,
    ngx_uint_t status, const char *message);
u_char *ngx_http_iot_collections_list_tail(u_char *p,
    ngx_http_iot_list_t *list, ngx_uint_t more);
u_char *ngx_http_iot_collections_cursor(u_char *p,
    ngx_http_iot_list_t *list);
size_t ngx_http_iot_collections_json_len(u_char *s, size_t len);
u_char *ngx_http_iot_collections_tags_write(u_char *p, ngx_iot_text_t *tags);
size_t ngx_http_iot_collections_collection_len(ngx_iot_collection_t *c);
u_char *ngx_http_iot_collections_collection_write(u_char *p,
    ngx_iot_collection_t *c);
u_char *ngx_http_iot_collections_mask_write(u_char *p, ngx_uint_t mask);
size_t ngx_http_iot_collections_device_len(ngx_iot_device_t *d);
u_char *ngx_http_iot_collections_device_write(u_char *p,
    ngx_iot_device_t *d, ngx_uint_t mask);
size_t ngx_http_iot_collections_token_len(ngx_iot_token_t *t);
u_char *ngx_http_iot_collections_token_write(u_char *p, ngx_iot_token_t *t,
    u_char *secret);
size_t ngx_http_iot_collections_message_len(ngx_iot_message_t *m,
    ngx_iot_device_t *d);
u_char *ngx_http_iot_collections_message_write(u_char *p,
    ngx_iot_message_t *m, ngx_iot_device_t *d, ngx_uint_t mask);
void ngx_http_iot_collections_device_gone(ngx_iot_message_t *m,
    ngx_iot_device_t *d);
ngx_int_t ngx_http_iot_collections_render(ngx_iot_message_t *m,
    ngx_pool_t *pool, ngx_str_t *out);
const char *ngx_http_iot_collections_downlink_error(ngx_iot_rc_e rc);
size_t ngx_http_iot_collections_downlink_len(ngx_iot_downlink_row_t *dl);
u_char *ngx_http_iot_collections_downlink_write(u_char *p,
    ngx_iot_downlink_row_t *dl);
/*
 * How a write of this dialect is answered (ctx->answer_data of
 * ngx_http_iot_collections_answer): the status of success (204: no body),
 * the message of not found, and whether a new token's secret is shown.
 */
typedef enum {
    NGX_HTTP_IOT_OUT_COLLECTION = 0,
    NGX_HTTP_IOT_OUT_DEVICE,
    NGX_HTTP_IOT_OUT_TOKEN
} ngx_http_iot_collections_out_e;

typedef struct {
    ngx_uint_t                 status;
    const char                *what;
    ngx_uint_t                 out;       /* ngx_http_iot_collections_out_e */
    ngx_uint_t                 secret;
} ngx_http_iot_collections_outcome_t;

ngx_iot_wait_t *ngx_http_iot_collections_waiter(ngx_http_request_t *r,
    ngx_http_iot_collections_outcome_t *outcome);

ngx_int_t ngx_http_iot_collections_send_collection(ngx_http_request_t *r,
    ngx_uint_t status, ngx_iot_collection_t *c);
ngx_int_t ngx_http_iot_collections_send_device(ngx_http_request_t *r,
    ngx_uint_t status, ngx_iot_device_t *d);
ngx_int_t ngx_http_iot_collections_send_token(ngx_http_request_t *r,
    ngx_uint_t status, ngx_iot_token_t *t, u_char *secret);
ngx_int_t ngx_http_iot_collections_send_tags(ngx_http_request_t *r,
    ngx_iot_text_t *tags);
ngx_int_t ngx_http_iot_collections_send_value(ngx_http_request_t *r,
    ngx_str_t *value);


#endif /* _NGX_HTTP_IOT_COLLECTIONS_H_INCLUDED_ */
