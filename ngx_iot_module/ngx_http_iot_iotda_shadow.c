
/*
 * Copyright (C) nginx-iot authors
 *
 * The iotda dialect's device shadows and the writes of a device's part
 * alone: GET, PUT, DELETE /devices/{device_id}/shadow; POST .../action
 * (resetSecret), .../freeze, .../unfreeze; POST /tags/bind-resource and
 * /tags/unbind-resource.  A shadow is a list of services, each with its
 * desired and reported properties and a version (docs/iotda.md,
 * "Shadows"); desired values are checked against the product's model.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_iot_iotda.h"


#define NGX_HTTP_IOT_IOTDA_TAGS_MAX  10


/* what a write of a part asks */
typedef struct {
    ngx_uint_t                     what;
    json_t                        *json;      /* shadow, tags, tag keys */
    ngx_str_t                      secret;
    ngx_uint_t                     secondary;
    u_char                         time[sizeof("yyyyMMddTHHmmssZ")];
    size_t                         time_len;
} ngx_http_iot_iotda_part_t;

#define NGX_HTTP_IOT_IOTDA_SHADOW_PUT     1
#define NGX_HTTP_IOT_IOTDA_SHADOW_DELETE  2
#define NGX_HTTP_IOT_IOTDA_FREEZE         3
#define NGX_HTTP_IOT_IOTDA_UNFREEZE       4
#define NGX_HTTP_IOT_IOTDA_RESET          5
#define NGX_HTTP_IOT_IOTDA_BIND           6
#define NGX_HTTP_IOT_IOTDA_UNBIND         7


static ngx_int_t ngx_http_iot_iotda_desired(ngx_http_request_t *r,
    json_t *model, json_t *item, json_t **service);
static json_t *ngx_http_iot_iotda_entry_of(json_t *shadow, const char *id);
static void ngx_http_iot_iotda_merge(json_t *entry, json_t *desired,
    u_char *time, size_t len);
static ngx_int_t ngx_http_iot_iotda_part(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx, ngx_iot_iotda_view_t *v,
    ngx_http_iot_iotda_part_t *part, ngx_http_iot_answer_pt answer);
static ngx_iot_rc_e ngx_http_iot_iotda_part_edit(ngx_iot_iotda_op_t *op);
static ngx_int_t ngx_http_iot_iotda_parted(ngx_http_request_t *r,
    ngx_iot_rc_e rc);
static ngx_int_t ngx_http_iot_iotda_tag_text(ngx_http_request_t *r,
    json_t *v, size_t min, size_t max);


/*
 * One item of a shadow request: {"service_id", "desired": {property:
 * value or null}} with the service and its properties in the model, the
 * values of their data types.  NGX_OK (*service: the model's), or
 * NGX_DECLINED noted in ctx.
 */

static ngx_int_t
ngx_http_iot_iotda_desired(ngx_http_request_t *r, json_t *model,
    json_t *item, json_t **service)
{
    u_char      *msg;
    size_t       n;
    json_t      *desired, *v, *prop;
    ngx_str_t    sid;
    const char  *key, *why;

    if (!json_is_object(item)) {
        return ngx_http_iot_iotda_invalid(r, NGX_HTTP_BAD_REQUEST,
                                          "IOTDA.000006 shadow: each item "
                                          "must be an object");
    }

    if (ngx_http_iot_iotda_text(r, item, "service_id", 1, 64, 0, &sid)
        != NGX_OK)
    {
        return NGX_DECLINED;
    }

    *service = ngx_http_iot_iotda_named(model, "service_capabilities",
                                        "service_id", (char *) sid.data);

    if (*service == NULL) {
        return ngx_http_iot_iotda_invalid(r, NGX_HTTP_BAD_REQUEST,
                                          "IOTDA.000006 shadow: a service_id "
                                          "that the product's model does "
                                          "not have");
    }

    desired = json_object_get(item, "desired");

    if (!json_is_object(desired)) {
        return ngx_http_iot_iotda_invalid(r, NGX_HTTP_BAD_REQUEST,
                                          "IOTDA.000006 shadow: desired must "
                                          "be an object");
    }

    json_object_foreach(desired, key, v) {

        if (ngx_strchr(key, '.') || ngx_strchr(key, '$')) {
            why = "a property name holds . or $";
            goto invalid;
        }

        prop = ngx_http_iot_iotda_named(*service, "properties",
                                        "property_name", key);

        if (prop == NULL) {
            why = "a property that the service does not have";
            goto invalid;
        }

        if (!json_is_null(v) && ngx_http_iot_iotda_default(prop, v) != NGX_OK)
        {
            why = "a value that does not fit its property (data type, "
                  "range, length, enum)";
            goto invalid;
        }
    }

    return NGX_OK;

invalid:

    n = sizeof("IOTDA.000006 shadow: : ") + ngx_strlen(why)
        + ngx_strlen(key);

    msg = ngx_pnalloc(r->pool, n);
    if (msg == NULL) {
        return NGX_ERROR;
    }

    (void) ngx_snprintf(msg, n, "IOTDA.000006 shadow: %s: %s%Z", why, key);

    return ngx_http_iot_iotda_invalid(r, NGX_HTTP_BAD_REQUEST, (char *) msg);
}


static json_t *
ngx_http_iot_iotda_entry_of(json_t *shadow, const char *id)
{
    size_t       i;
    json_t      *e;
    const char  *s;

    for (i = 0; i < json_array_size(shadow); i++) {
        e = json_array_get(shadow, i);
        s = json_string_value(json_object_get(e, "service_id"));

        if (s && ngx_strcmp(s, id) == 0) {
            return e;
        }
    }

    return NULL;
}


/* desired into an entry: {} clears, null deletes a property */

static void
ngx_http_iot_iotda_merge(json_t *entry, json_t *desired, u_char *time,
    size_t len)
{
    json_t      *d, *props, *v;
    const char  *key;

    d = json_object_get(entry, "desired");

    if (!json_is_object(d)) {
        d = json_object();
        (void) json_object_set_new(entry, "desired", d);
    }

    props = json_object_get(d, "properties");

    if (!json_is_object(props) || json_object_size(desired) == 0) {
        props = json_object();
        (void) json_object_set_new(d, "properties", props);
    }

    json_object_foreach(desired, key, v) {
        if (json_is_null(v)) {
            (void) json_object_del(props, key);

        } else {
            (void) json_object_set_new(props, key, json_deep_copy(v));
        }
    }

    (void) json_object_set_new(d, "event_time",
                               json_stringn((char *) time, len));
}


/*
 * A new device's shadow: of each service of the model, the properties
 * with a default_value; then the request's shadow over them.
 */

ngx_int_t
ngx_http_iot_iotda_shadow_initial(ngx_http_request_t *r, json_t *model,
    json_t *request, json_t *doc)
{
    u_char       time[sizeof("yyyyMMddTHHmmssZ")];
    size_t       i, j, len;
    json_t      *shadow, *list, *svc, *props, *prop, *def, *entry, *item;
    json_t      *defaults, *service;
    ngx_int_t    rc;
    const char  *sid, *name;

    len = ngx_http_iot_iotda_time(time, ngx_iot_now_ms()) - time;

    shadow = json_array();
    if (shadow == NULL) {
        return NGX_ERROR;
    }

    list = json_object_get(model, "service_capabilities");

    for (i = 0; json_is_array(list) && i < json_array_size(list); i++) {
        svc = json_array_get(list, i);
        sid = json_string_value(json_object_get(svc, "service_id"));
        props = json_object_get(svc, "properties");

        defaults = json_object();
        if (defaults == NULL) {
            goto failed;
        }

        for (j = 0; json_is_array(props) && j < json_array_size(props); j++)
        {
            prop = json_array_get(props, j);
            name = json_string_value(json_object_get(prop, "property_name"));
            def = json_object_get(prop, "default_value");

            if (name && def && !json_is_null(def)) {
                (void) json_object_set(defaults, name, def);
            }
        }

        if (sid && json_object_size(defaults)) {
            entry = json_pack("{s:s, s:I}", "service_id", sid, "version",
                              (json_int_t) 0);

            if (entry == NULL || json_array_append_new(shadow, entry) != 0) {
                json_decref(defaults);
                goto failed;
            }

            ngx_http_iot_iotda_merge(entry, defaults, time, len);
        }

        json_decref(defaults);
    }

    if (request && !json_is_null(request)) {
        if (!json_is_array(request)) {
            json_decref(shadow);
            return ngx_http_iot_iotda_invalid(r, NGX_HTTP_BAD_REQUEST,
                                              "IOTDA.000006 shadow must be "
                                              "an array");
        }

        for (i = 0; i < json_array_size(request); i++) {
            item = json_array_get(request, i);

            rc = ngx_http_iot_iotda_desired(r, model, item, &service);
            if (rc != NGX_OK) {
                json_decref(shadow);
                return rc;
            }

            sid = json_string_value(json_object_get(item, "service_id"));
            entry = ngx_http_iot_iotda_entry_of(shadow, sid);

            if (entry == NULL) {
                entry = json_pack("{s:s, s:I}", "service_id", sid,
                                  "version", (json_int_t) 0);

                if (entry == NULL || json_array_append_new(shadow, entry))
                {
                    goto failed;
                }
            }

            ngx_http_iot_iotda_merge(entry, json_object_get(item, "desired"),
                                     time, len);
        }
    }

    if (json_array_size(shadow) == 0) {
        json_decref(shadow);
        return NGX_OK;
    }

    return json_object_set_new(doc, "shadow", shadow) == 0
           ? NGX_OK : NGX_ERROR;

failed:

    json_decref(shadow);

    return NGX_ERROR;
}


/* {"device_id", "shadow": [...]} */

json_t *
ngx_http_iot_iotda_shadow_json(ngx_http_request_t *r,
    ngx_iot_iotda_view_t *v)
{
    json_t  *o, *doc, *shadow;

    doc = v->doc.len ? json_loadb((char *) v->doc.data, v->doc.len, 0, NULL)
                     : NULL;

    shadow = doc ? json_object_get(doc, "shadow") : NULL;
    shadow = shadow ? json_incref(shadow) : json_array();

    json_decref(doc);

    o = json_object();

    if (o == NULL || shadow == NULL
        || json_object_set_new(o, "device_id",
                               json_stringn((char *) v->device_id.data,
                                            v->device_id.len))
           != 0
        || json_object_set_new(o, "shadow", shadow) != 0)
    {
        json_decref(o);
        return NULL;
    }

    return o;
}


/* GET, PUT, DELETE /devices/{device_id}/shadow */

ngx_int_t
ngx_http_iot_iotda_shadow(ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx)
{
    size_t                      i;
    json_t                     *json, *list, *model, *service, *v;
    ngx_int_t                   rc;
    json_error_t                jerr;
    ngx_iot_iotda_view_t       *view;
    ngx_http_iot_iotda_part_t  *part;

    view = ngx_palloc(r->pool, sizeof(ngx_iot_iotda_view_t));
    part = ngx_pcalloc(r->pool, sizeof(ngx_http_iot_iotda_part_t));

    if (view == NULL || part == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_iot_iotda_target(r, ctx, r->method != NGX_HTTP_GET, 1,
                                   view);
    if (rc != NGX_OK) {
        return ngx_http_iot_error(r, ctx->status, ctx->message);
    }

    if (r->method == NGX_HTTP_GET) {
        json = ngx_http_iot_iotda_shadow_json(r, view);
        if (json == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_iot_iotda_send_json(r, NGX_HTTP_OK, json);
    }

    if (r->method == NGX_HTTP_DELETE) {
        part->what = NGX_HTTP_IOT_IOTDA_SHADOW_DELETE;
        return ngx_http_iot_iotda_part(r, ctx, view, part,
                                       ngx_http_iot_iotda_parted);
    }

    /* PUT: each item checked against the model, its version a number */

    list = json_object_get(ctx->body, "shadow");

    if (!json_is_array(list) || json_array_size(list) == 0) {
        return ngx_http_iot_error(r, NGX_HTTP_BAD_REQUEST,
                                  "IOTDA.000006 shadow must be an array of "
                                  "services");
    }

    if (view->model.len == 0) {
        return ngx_http_iot_error(r, NGX_HTTP_BAD_REQUEST,
                                  "IOTDA.000006 the device has no product: "
                                  "its shadow has no model");
    }

    model = json_loadb((char *) view->model.data, view->model.len, 0, &jerr);
    if (model == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    for (i = 0; i < json_array_size(list); i++) {
        rc = ngx_http_iot_iotda_desired(r, model, json_array_get(list, i),
                                        &service);
        if (rc != NGX_OK) {
            json_decref(model);
            return rc == NGX_DECLINED
                   ? ngx_http_iot_error(r, ctx->status, ctx->message)
                   : NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        v = json_object_get(json_array_get(list, i), "version");

        if (v && !json_is_null(v)
            && (!json_is_integer(v) || json_integer_value(v) < 0))
        {
            json_decref(model);
            return ngx_http_iot_error(r, NGX_HTTP_BAD_REQUEST,
                                      "IOTDA.000006 shadow: version must "
                                      "be a number, 0 or more");
        }
    }

    json_decref(model);

    part->what = NGX_HTTP_IOT_IOTDA_SHADOW_PUT;
    part->json = list;

    return ngx_http_iot_iotda_part(r, ctx, view, part,
                                   ngx_http_iot_iotda_parted);
}


/* POST /devices/{device_id}/action?action_id=resetSecret */

ngx_int_t
ngx_http_iot_iotda_action(ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx)
{
    u_char                     *p, *last, raw[16];
    json_t                     *v;
    ngx_int_t                   rc;
    ngx_str_t                   key, value, type;
    ngx_uint_t                  reset;
    ngx_iot_iotda_view_t       *view;
    ngx_http_iot_iotda_part_t  *part;

    reset = 0;
    p = r->args.data;
    last = p + r->args.len;

    while (p < last) {
        if (ngx_http_iot_iotda_next_arg(r, &p, last, &key, &value) != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (key.len == sizeof("action_id") - 1
            && ngx_strncmp(key.data, "action_id", key.len) == 0)
        {
            reset = (value.len == sizeof("resetSecret") - 1
                     && ngx_strncmp(value.data, "resetSecret", value.len)
                        == 0);
        }
    }

    if (!reset) {
        return ngx_http_iot_error(r, NGX_HTTP_BAD_REQUEST,
                                  "IOTDA.000006 action_id must be "
                                  "resetSecret");
    }

    view = ngx_palloc(r->pool, sizeof(ngx_iot_iotda_view_t));
    part = ngx_pcalloc(r->pool, sizeof(ngx_http_iot_iotda_part_t));

    if (view == NULL || part == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    part->what = NGX_HTTP_IOT_IOTDA_RESET;

    if (ctx->body) {
        if (ngx_http_iot_iotda_text(r, ctx->body, "secret", 0, 32, 1,
                                    &part->secret)
            != NGX_OK
            || ngx_http_iot_iotda_text(r, ctx->body, "secret_type", 0, 16, 0,
                                       &type)
               != NGX_OK)
        {
            return ngx_http_iot_error(r, ctx->status, ctx->message);
        }

        if (part->secret.len && part->secret.len < 8) {
            return ngx_http_iot_error(r, NGX_HTTP_BAD_REQUEST,
                                      "IOTDA.000006 secret must be 8 to 32 "
                                      "letters, digits, _ or -");
        }

        if (type.len == sizeof("SECONDARY") - 1
            && ngx_strncmp(type.data, "SECONDARY", type.len) == 0)
        {
            part->secondary = 1;

        } else if (type.len
                   && !(type.len == sizeof("PRIMARY") - 1
                        && ngx_strncmp(type.data, "PRIMARY", type.len) == 0))
        {
            return ngx_http_iot_error(r, NGX_HTTP_BAD_REQUEST,
                                      "IOTDA.000006 secret_type must be "
                                      "PRIMARY or SECONDARY");
        }

        v = json_object_get(ctx->body, "force_disconnect");

        if (v && !json_is_null(v) && !json_is_boolean(v)) {
            return ngx_http_iot_error(r, NGX_HTTP_BAD_REQUEST,
                                      "IOTDA.000006 force_disconnect must "
                                      "be true or false");
        }
    }

    if (part->secret.len == 0) {
        /* the platform's: 32 hex digits */

        if (ngx_iot_random(raw, sizeof(raw)) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        part->secret.data = ngx_pnalloc(r->pool, 2 * sizeof(raw));
        if (part->secret.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        part->secret.len = ngx_hex_dump(part->secret.data, raw, sizeof(raw))
                           - part->secret.data;
        ngx_explicit_memzero(raw, sizeof(raw));
    }

    rc = ngx_http_iot_iotda_target(r, ctx, 1, 0, view);
    if (rc != NGX_OK) {
        return ngx_http_iot_error(r, ctx->status, ctx->message);
    }

    return ngx_http_iot_iotda_part(r, ctx, view, part,
                                   ngx_http_iot_iotda_parted);
}


/* POST /devices/{device_id}/freeze, /unfreeze */

ngx_int_t
ngx_http_iot_iotda_freeze(ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx)
{
    ngx_int_t                   rc;
    ngx_iot_iotda_view_t       *view;
    ngx_http_iot_iotda_part_t  *part;

    view = ngx_palloc(r->pool, sizeof(ngx_iot_iotda_view_t));
    part = ngx_pcalloc(r->pool, sizeof(ngx_http_iot_iotda_part_t));

    if (view == NULL || part == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_iot_iotda_target(r, ctx, 1, 0, view);
    if (rc != NGX_OK) {
        return ngx_http_iot_error(r, ctx->status, ctx->message);
    }

    part->what = (ctx->seg[3].data[0] == 'f') ? NGX_HTTP_IOT_IOTDA_FREEZE
                                              : NGX_HTTP_IOT_IOTDA_UNFREEZE;

    return ngx_http_iot_iotda_part(r, ctx, view, part,
                                   ngx_http_iot_iotda_parted);
}


/*
 * POST /tags/bind-resource {"resource_type":"device", "resource_id",
 * "tags":[{"tag_key", "tag_value"}]}, /tags/unbind-resource
 * {"resource_type", "resource_id", "tag_keys":[...]}
 */

ngx_int_t
ngx_http_iot_iotda_tags(ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx)
{
    size_t                      i;
    json_t                     *list, *t;
    ngx_int_t                   rc;
    ngx_str_t                   type, id;
    ngx_uint_t                  bind;
    ngx_iot_iotda_view_t       *view;
    ngx_http_iot_iotda_part_t  *part;

    bind = (ctx->seg[2].data[0] == 'b');

    view = ngx_palloc(r->pool, sizeof(ngx_iot_iotda_view_t));
    part = ngx_pcalloc(r->pool, sizeof(ngx_http_iot_iotda_part_t));

    if (view == NULL || part == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_iot_iotda_text(r, ctx->body, "resource_type", 1, 32, 0,
                                &type)
        != NGX_OK
        || ngx_http_iot_iotda_text(r, ctx->body, "resource_id", 1,
                                   NGX_IOT_IOTDA_DID_MAX, 1, &id)
           != NGX_OK)
    {
        return ngx_http_iot_error(r, ctx->status, ctx->message);
    }

    if (!(type.len == sizeof("device") - 1
          && ngx_strncmp(type.data, "device", type.len) == 0))
    {
        return ngx_http_iot_error(r, NGX_HTTP_BAD_REQUEST,
                                  "IOTDA.000006 resource_type must be "
                                  "device");
    }

    list = json_object_get(ctx->body, bind ? "tags" : "tag_keys");

    if (!json_is_array(list) || json_array_size(list) == 0
        || json_array_size(list) > NGX_HTTP_IOT_IOTDA_TAGS_MAX)
    {
        return ngx_http_iot_error(r, NGX_HTTP_BAD_REQUEST,
                                  bind ? "IOTDA.000006 tags must be an array "
                                         "of 1 to 10 tags"
                                       : "IOTDA.000006 tag_keys must be an "
                                         "array of 1 to 10 keys");
    }

    for (i = 0; i < json_array_size(list); i++) {
        t = json_array_get(list, i);

        if (bind
            ? (!json_is_object(t)
               || ngx_http_iot_iotda_tag_text(r, json_object_get(t, "tag_key"),
                                              1, 64)
                  != NGX_OK
               || ngx_http_iot_iotda_tag_text(r,
                                              json_object_get(t, "tag_value"),
                                              0, 128)
                  != NGX_OK)
            : ngx_http_iot_iotda_tag_text(r, t, 1, 64) != NGX_OK)
        {
            return ngx_http_iot_error(r, NGX_HTTP_BAD_REQUEST,
                                      "IOTDA.000006 a tag_key is 1 to 64, a "
                                      "tag_value at most 128 letters, "
                                      "digits, _, . or -");
        }
    }

    /* the device, as a path would name it */

    ctx->seg[2] = id;

    rc = ngx_http_iot_iotda_target(r, ctx, 1, 0, view);
    if (rc != NGX_OK) {
        return ngx_http_iot_error(r, ctx->status, ctx->message);
    }

    part->what = bind ? NGX_HTTP_IOT_IOTDA_BIND : NGX_HTTP_IOT_IOTDA_UNBIND;
    part->json = list;

    return ngx_http_iot_iotda_part(r, ctx, view, part,
                                   ngx_http_iot_iotda_parted);
}


static ngx_int_t
ngx_http_iot_iotda_tag_text(ngx_http_request_t *r, json_t *v, size_t min,
    size_t max)
{
    size_t       i, len;
    const char  *s;

    if (!json_is_string(v)) {
        return NGX_DECLINED;
    }

    s = json_string_value(v);
    len = json_string_length(v);

    if (len < min || len > max) {
        return NGX_DECLINED;
    }

    for (i = 0; i < len; i++) {
        if (!(isalnum((u_char) s[i]) || s[i] == '_' || s[i] == '.'
              || s[i] == '-'))
        {
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}


/* one write of the part alone; the answer once it is durable */

static ngx_int_t
ngx_http_iot_iotda_part(ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx,
    ngx_iot_iotda_view_t *v, ngx_http_iot_iotda_part_t *part,
    ngx_http_iot_answer_pt answer)
{
    ngx_iot_rc_e         rc;
    ngx_iot_wait_t      *wait;
    ngx_iot_iotda_op_t  *op;

    op = ngx_pcalloc(r->pool, sizeof(ngx_iot_iotda_op_t));
    if (op == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    part->time_len = ngx_http_iot_iotda_time(part->time, ngx_iot_now_ms())
                     - part->time;

    op->device_id = v->d.id.key;
    op->cid = v->d.collection_id;
    op->edit = ngx_http_iot_iotda_part_edit;
    op->data = part;

    wait = ngx_http_iot_waiter(r, answer, op);
    if (wait == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_iot_iotda_write((ngx_cycle_t *) ngx_cycle, op, r->pool,
                             r->connection->log, wait);

    return ngx_http_iot_answer(r, rc);
}


/* under the zone's lock: the part as the request makes it */

static ngx_iot_rc_e
ngx_http_iot_iotda_part_edit(ngx_iot_iotda_op_t *op)
{
    ngx_http_iot_iotda_part_t  *part = op->data;

    size_t       i, j;
    json_t      *doc, *shadow, *item, *entry, *v, *tags, *t;
    json_int_t   version;
    ngx_iot_rc_e rc;
    const char  *sid, *k;

    switch (part->what) {

    case NGX_HTTP_IOT_IOTDA_FREEZE:
    case NGX_HTTP_IOT_IOTDA_UNFREEZE:
        if (op->row.gateway) {
            op->why = NGX_IOT_IOTDA_WHY_CHILD;
            return NGX_IOT_NOT_FOUND;
        }

        if (part->what == NGX_HTTP_IOT_IOTDA_UNFREEZE
            && !(op->row.flags & NGX_IOT_IOTDA_FROZEN))
        {
            op->why = NGX_IOT_IOTDA_WHY_NOT_FROZEN;
            return NGX_IOT_NOT_FOUND;
        }

        if (part->what == NGX_HTTP_IOT_IOTDA_FREEZE) {
            op->unchanged = (op->cur
                             && (op->row.flags & NGX_IOT_IOTDA_FROZEN));
            op->row.flags |= NGX_IOT_IOTDA_FROZEN;

        } else {
            op->row.flags &= ~NGX_IOT_IOTDA_FROZEN;
        }

        return NGX_IOT_OK;

    case NGX_HTTP_IOT_IOTDA_RESET:
        if (op->row.flags & NGX_IOT_IOTDA_CERTS) {
            op->why = NGX_IOT_IOTDA_WHY_INVALID;
            op->message = "IOTDA.000006 the device authenticates with "
                          "certificates: it has no secret";
            return NGX_IOT_NOT_FOUND;
        }

        if (part->secondary) {
            op->set_secondary = 1;
            op->secondary = part->secret;
            op->row.flags |= NGX_IOT_IOTDA_SECONDARY;

        } else {
            op->set_secret = 1;
            op->secret = part->secret;
            op->row.flags |= NGX_IOT_IOTDA_SECRET;
        }

        return NGX_IOT_OK;

    default:
        break;
    }

    /* the rest change the part's JSON */

    doc = json_loadb((char *) op->doc.data, op->doc.len, 0, NULL);

    if (!json_is_object(doc)) {
        json_decref(doc);
        return NGX_IOT_STORE_ERROR;
    }

    rc = NGX_IOT_OK;

    switch (part->what) {

    case NGX_HTTP_IOT_IOTDA_SHADOW_DELETE:
        (void) json_object_del(doc, "shadow");
        break;

    case NGX_HTTP_IOT_IOTDA_SHADOW_PUT:
        shadow = json_object_get(doc, "shadow");

        if (!json_is_array(shadow)) {
            shadow = json_array();
            (void) json_object_set_new(doc, "shadow", shadow);
        }

        /* every version first: a conflict changes nothing */

        for (i = 0; i < json_array_size(part->json); i++) {
            item = json_array_get(part->json, i);
            sid = json_string_value(json_object_get(item, "service_id"));
            entry = ngx_http_iot_iotda_entry_of(shadow, sid);
            v = json_object_get(item, "version");

            version = entry ? json_integer_value(json_object_get(entry,
                                                                 "version"))
                            : 0;

            if (json_is_integer(v) && json_integer_value(v) != version) {
                op->why = NGX_IOT_IOTDA_WHY_VERSION;
                json_decref(doc);
                return NGX_IOT_NOT_FOUND;
            }
        }

        for (i = 0; i < json_array_size(part->json); i++) {
            item = json_array_get(part->json, i);
            sid = json_string_value(json_object_get(item, "service_id"));
            entry = ngx_http_iot_iotda_entry_of(shadow, sid);

            if (entry == NULL) {
                entry = json_pack("{s:s, s:I}", "service_id", sid, "version",
                                  (json_int_t) 0);
                if (entry == NULL
                    || json_array_append_new(shadow, entry) != 0)
                {
                    rc = NGX_IOT_STORE_ERROR;
                    break;
                }
            }

            ngx_http_iot_iotda_merge(entry, json_object_get(item, "desired"),
                                     part->time, part->time_len);

            version = json_integer_value(json_object_get(entry, "version"));
            (void) json_object_set_new(entry, "version",
                                       json_integer(version + 1));
        }

        break;

    default: /* tags */
        tags = json_object_get(doc, "tags");

        if (!json_is_array(tags)) {
            tags = json_array();
            (void) json_object_set_new(doc, "tags", tags);
        }

        for (i = 0; i < json_array_size(part->json); i++) {
            t = json_array_get(part->json, i);
            k = json_string_value(part->what == NGX_HTTP_IOT_IOTDA_BIND
                                  ? json_object_get(t, "tag_key") : t);

            for (j = 0; j < json_array_size(tags); j++) {
                if (ngx_strcmp(json_string_value(
                                   json_object_get(json_array_get(tags, j),
                                                   "tag_key")),
                               k)
                    == 0)
                {
                    (void) json_array_remove(tags, j);
                    break;
                }
            }

            if (part->what == NGX_HTTP_IOT_IOTDA_BIND) {
                (void) json_array_append_new(tags,
                    json_pack("{s:s, s:s}", "tag_key", k, "tag_value",
                              json_string_value(json_object_get(t,
                                                            "tag_value"))));
            }
        }

        if (json_array_size(tags) > NGX_HTTP_IOT_IOTDA_TAGS_MAX) {
            op->why = NGX_IOT_IOTDA_WHY_INVALID;
            op->message = "IOTDA.000006 a device has at most 10 tags";
            rc = NGX_IOT_NOT_FOUND;
        }

        break;
    }

    if (rc == NGX_IOT_OK
        && ngx_http_iot_iotda_json_text(op->pool, doc, &op->doc) != NGX_OK)
    {
        rc = NGX_IOT_STORE_ERROR;
    }

    json_decref(doc);

    return rc;
}


/* the answer: a shadow, a secret once, or nothing */

static ngx_int_t
ngx_http_iot_iotda_parted(ngx_http_request_t *r, ngx_iot_rc_e rc)
{
    json_t                     *json;
    ngx_http_iot_ctx_t         *ctx;
    ngx_iot_iotda_op_t         *op;
    ngx_iot_iotda_view_t        v;
    ngx_http_iot_iotda_part_t  *part;

    ctx = ngx_http_get_module_ctx(r, ngx_http_iot_module);
    op = ctx->answer_data;
    part = op->data;

    if (rc != NGX_IOT_OK) {
        return ngx_http_iot_iotda_write_error(r, rc, op);
    }

    switch (part->what) {

    case NGX_HTTP_IOT_IOTDA_SHADOW_PUT:
        if (ngx_iot_iotda_view((ngx_cycle_t *) ngx_cycle, op->device_id,
                               r->pool, 0, &v)
            != NGX_IOT_OK)
        {
            return ngx_http_iot_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                      "IOTDA.000003 the device cannot be "
                                      "read now");
        }

        json = ngx_http_iot_iotda_shadow_json(r, &v);
        break;

    case NGX_HTTP_IOT_IOTDA_RESET:
        if (ngx_iot_iotda_view((ngx_cycle_t *) ngx_cycle, op->device_id,
                               r->pool, 0, &v)
            != NGX_IOT_OK)
        {
            return ngx_http_iot_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                      "IOTDA.000003 the device cannot be "
                                      "read now");
        }

        /* the new secret: this answer is the only one that shows it */

        json = json_pack("{s:s%, s:s%, s:s}",
                         "device_id", (char *) v.device_id.data,
                         v.device_id.len,
                         "secret", (char *) part->secret.data,
                         part->secret.len,
                         "secret_type",
                         part->secondary ? "SECONDARY" : "PRIMARY");
        break;

    case NGX_HTTP_IOT_IOTDA_SHADOW_DELETE:
        return ngx_http_iot_send(r, NGX_HTTP_NO_CONTENT, NULL);

    default:
        return ngx_http_iot_send(r, NGX_HTTP_OK, NULL);
    }

    if (json == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_iot_iotda_send_json(r, NGX_HTTP_OK, json);
}
