
/*
 * Copyright (C) nginx-iot authors
 *
 * The iotda dialect (Huawei Cloud IoTDA v5): what its files share.
 *
 *   ngx_http_iot_iotda.c          the table, routes, the project, errors
 *                                 (IOTDA.xxxxxx and X-Request-Id), and
 *                                 credentials: X-Auth-Token, or AK/SK
 *                                 request signatures checked over the
 *                                 request's bytes
 *   ngx_http_iot_iotda_sign.c     the signatures themselves (no nginx)
 *   ngx_http_iot_iotda_devices.c  /devices, /devices/{device_id}
 *   ngx_http_iot_iotda_products.c /products, /products/{product_id}
 *   ngx_http_iot_iotda_messages.c /devices/{device_id}/messages[/{id}]
 *   ngx_http_iot_iotda_commands.c /devices/{device_id}/commands
 *   ngx_http_iot_iotda_keys.c     /v3.0/OS-CREDENTIAL/credentials: access
 *                                 keys made like IAM's permanent ones
 *   ngx_http_iot_iotda_shadow.c   /devices/{device_id}/shadow, /action,
 *                                 /freeze, /unfreeze; /tags/...-resource
 */


#ifndef _NGX_HTTP_IOT_IOTDA_H_INCLUDED_
#define _NGX_HTTP_IOT_IOTDA_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_iot.h"
#include "ngx_http_iot_dialect.h"
#include "ngx_iot_iotda.h"
#include "ngx_iot_downlink.h"


/*
 * An error message of this dialect may start with its code:
 * "IOTDA.014000 the device does not exist".  Without one the status
 * chooses it (docs/iotda.md, "Errors").
 */
#define NGX_HTTP_IOT_IOTDA_CODE_LEN   (sizeof("IOTDA.000000") - 1)
#define NGX_HTTP_IOT_IOTDA_IAM_CODE_LEN  (sizeof("IAM.0000") - 1)

/* why a signed request was refused: the counters of $iot_iotda_stats */
typedef enum {
    NGX_HTTP_IOT_IOTDA_REFUSED_FORM = 0,   /* not a signature header */
    NGX_HTTP_IOT_IOTDA_REFUSED_KEY,        /* an unknown access key */
    NGX_HTTP_IOT_IOTDA_REFUSED_DATE,       /* X-Sdk-Date missing or stale */
    NGX_HTTP_IOT_IOTDA_REFUSED_HEADER,     /* a signed header missing */
    NGX_HTTP_IOT_IOTDA_REFUSED_PROJECT,    /* not the key's project */
    NGX_HTTP_IOT_IOTDA_REFUSED_SIGNATURE,  /* does not match the request */
    NGX_HTTP_IOT_IOTDA_REFUSED_LAST
} ngx_http_iot_iotda_refused_e;

/* lists: limit's default and maximum, offset's maximum */
#define NGX_HTTP_IOT_IOTDA_LIMIT      10
#define NGX_HTTP_IOT_IOTDA_LIMIT_MAX  50
#define NGX_HTTP_IOT_IOTDA_OFFSET_MAX 500

/* the clock skew of X-Sdk-Date that is accepted, seconds */
#define NGX_HTTP_IOT_IOTDA_SKEW       900

/* an access key made at the credentials endpoint: AK and SK lengths */
#define NGX_HTTP_IOT_IOTDA_AK_LEN     20
#define NGX_HTTP_IOT_IOTDA_SK_LEN     40


extern ngx_http_iot_dialect_t  ngx_http_iot_iotda_dialect;


/* ngx_http_iot_iotda.c */
ngx_int_t ngx_http_iot_iotda_refuse(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx, ngx_uint_t status, const char *message);
ngx_int_t ngx_http_iot_iotda_invalid(ngx_http_request_t *r,
    ngx_uint_t status, const char *message);
ngx_int_t ngx_http_iot_iotda_json_text(ngx_pool_t *pool, json_t *j,
    ngx_str_t *out);
ngx_int_t ngx_http_iot_iotda_send_json(ngx_http_request_t *r,
    ngx_uint_t status, json_t *json);
ngx_uint_t ngx_http_iot_iotda_reaches(ngx_iot_principal_t *who,
    uint64_t cid, ngx_uint_t write);
u_char *ngx_http_iot_iotda_time(u_char *p, uint64_t ms);
ngx_int_t ngx_http_iot_iotda_date(ngx_str_t *date, time_t *t);
ngx_int_t ngx_http_iot_iotda_project(ngx_str_t *project, uint64_t *team_id);
void ngx_http_iot_iotda_count(ngx_http_request_t *r,
    ngx_http_iot_iotda_refused_e why, ngx_str_t *ak);
ngx_int_t ngx_http_iot_iotda_add_variables(ngx_conf_t *cf);
void ngx_http_iot_iotda_project_id(uint64_t team_id, u_char *out);

/* ngx_http_iot_iotda_devices.c */
ngx_int_t ngx_http_iot_iotda_devices(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx);
ngx_int_t ngx_http_iot_iotda_next_arg(ngx_http_request_t *r, u_char **pos,
    u_char *last, ngx_str_t *key, ngx_str_t *value);
ngx_int_t ngx_http_iot_iotda_page_arg(ngx_http_request_t *r, ngx_str_t *key,
    ngx_str_t *value, uint64_t *after, ngx_uint_t *limit,
    ngx_uint_t *offset);
ngx_int_t ngx_http_iot_iotda_page_args(ngx_http_request_t *r,
    uint64_t *after, ngx_uint_t *limit, ngx_uint_t *offset,
    ngx_str_t *app_id);

/* ngx_http_iot_iotda_products.c */
ngx_int_t ngx_http_iot_iotda_products(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx);
ngx_int_t ngx_http_iot_iotda_product(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx);
json_t *ngx_http_iot_iotda_model_json(ngx_http_request_t *r, u_char *text,
    size_t len);
ngx_int_t ngx_http_iot_iotda_model_initial(ngx_http_request_t *r,
    u_char *text, size_t len, ngx_str_t *doc);
void ngx_http_iot_iotda_models_free(ngx_cycle_t *cycle);
ngx_int_t ngx_http_iot_iotda_text(ngx_http_request_t *r, json_t *obj,
    const char *name, ngx_uint_t required, size_t max, ngx_uint_t id_chars,
    ngx_str_t *out);
ngx_int_t ngx_http_iot_iotda_device(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx);
ngx_int_t ngx_http_iot_iotda_default(json_t *prop, json_t *v);
json_t *ngx_http_iot_iotda_named(json_t *o, const char *list,
    const char *field, const char *name);

/* ngx_http_iot_iotda_devices.c: the device a path names, reached */
ngx_int_t ngx_http_iot_iotda_target(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx, ngx_uint_t write, ngx_uint_t model,
    ngx_iot_iotda_view_t *v);
ngx_int_t ngx_http_iot_iotda_write_error(ngx_http_request_t *r,
    ngx_iot_rc_e rc, ngx_iot_iotda_op_t *op);
ngx_uint_t ngx_http_iot_iotda_id_chars(ngx_str_t *s, size_t max);

/* ngx_http_iot_iotda_shadow.c */
ngx_int_t ngx_http_iot_iotda_action(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx);
ngx_int_t ngx_http_iot_iotda_freeze(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx);
ngx_int_t ngx_http_iot_iotda_shadow(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx);
ngx_int_t ngx_http_iot_iotda_tags(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx);
/*
 * A device's first shadow (doc's "shadow"): the product's defaults, then
 * the create request's shadow, checked against the model.  NGX_OK,
 * NGX_DECLINED (noted in ctx), NGX_ERROR.
 */
ngx_int_t ngx_http_iot_iotda_shadow_initial(ngx_http_request_t *r,
    json_t *model, json_t *request, json_t *doc);
json_t *ngx_http_iot_iotda_shadow_json(ngx_http_request_t *r,
    ngx_iot_iotda_view_t *v);

/* ngx_http_iot_iotda_messages.c */
ngx_int_t ngx_http_iot_iotda_messages(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx);
ngx_int_t ngx_http_iot_iotda_message(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx);
/*
 * What a message and a command share: the device of the path, reached
 * (write: to send to it), its view (with its product's model when write)
 * and the transport a downlink to it takes, NGX_OK; NGX_DECLINED noted
 * in ctx; NGX_ERROR.  A downlink's status, times and error_info into o.
 */
ngx_int_t ngx_http_iot_iotda_msg_device(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx, ngx_uint_t write, ngx_iot_iotda_view_t *v,
    ngx_iot_downlink_e *transport);
ngx_int_t ngx_http_iot_iotda_msg_status(json_t *o,
    ngx_iot_downlink_row_t *dl);

/* ngx_http_iot_iotda_commands.c */
ngx_int_t ngx_http_iot_iotda_commands(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx);

/* ngx_http_iot_iotda_keys.c */
ngx_uint_t ngx_http_iot_iotda_iam(ngx_http_request_t *r);
ngx_uint_t ngx_http_iot_iotda_iam_ak(ngx_str_t *ak);
ngx_int_t ngx_http_iot_iotda_access_key(ngx_http_request_t *r,
    ngx_str_t *ak, ngx_iot_principal_t *who, uint64_t *team_id, u_char *sk,
    size_t sk_max, size_t *sk_len);
ngx_int_t ngx_http_iot_iotda_keys(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx);
ngx_int_t ngx_http_iot_iotda_key(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx);


#endif /* _NGX_HTTP_IOT_IOTDA_H_INCLUDED_ */
