
/*
 * Copyright (C) nginx-iot authors
 *
 * The iotda dialect's devices: a device of the one registry as IoTDA
 * shows it, made, changed and deleted.  Its app_id (resource space) is
 * its collection, its device_name its tags.name, its description the
 * things dialect's; its device_id, node_id (when not its IMEI), product,
 * gateway, auth_info, tags and extension_info are its iotda part
 * (ngx_iot_iotda.h).  A device made elsewhere has none: its device_id is
 * its id, its node_id its IMEI (else its IMSI, else its id).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_iot_iotda.h"
#include "ngx_iot_entities.h"
#include "ngx_iot_products.h"


/* what a list takes */
typedef struct {
    ngx_iot_principal_t           *who;
    uint64_t                       cid;         /* app_id; 0: any */
    ngx_str_t                      node_id;
    ngx_str_t                      device_name;
    uint64_t                       start;       /* ms, registration */
    uint64_t                       end;
    ngx_uint_t                     has_start;
    ngx_uint_t                     has_end;
    ngx_uint_t                     none;        /* nothing can match */
    uint64_t                       product;     /* product_id's */
    uint64_t                       gateway;     /* gateway_id's device */
    ngx_uint_t                     cascade;
    ngx_pool_t                    *tmp;
} ngx_http_iot_iotda_filter_t;


/* what a device write asks of its part */
typedef struct {
    ngx_str_t                      did;
    ngx_str_t                      node;        /* kept: not an IMEI */
    ngx_str_t                      gateway;     /* gateway_id, as given */
    ngx_str_t                      doc;
    uint64_t                       product;
    uint64_t                       cid;
    u_char                         flags;
    uint32_t                       timeout;
    ngx_uint_t                     set_flags;   /* update: flags, timeout */
    ngx_uint_t                     set_timeout;
    json_t                        *extension;   /* update: the new one */
} ngx_http_iot_iotda_make_t;


/* the other fields of a device made, as the request gave them */
typedef struct {
    ngx_str_t                      name;
    ngx_str_t                      product_id;
    ngx_str_t                      description;
    ngx_str_t                      app_id;
    ngx_str_t                      secret;
    json_t                        *extension;
} ngx_http_iot_iotda_made_t;


static ngx_int_t ngx_http_iot_iotda_member(u_char *p, size_t len,
    const char *key, ngx_str_t *value);
static u_char *ngx_http_iot_iotda_esc_value(u_char *p, ngx_str_t *s);
static ngx_int_t ngx_http_iot_iotda_app_name(ngx_http_request_t *r,
    uint64_t cid, ngx_str_t *name);
static size_t ngx_http_iot_iotda_item_size(ngx_iot_iotda_view_t *v,
    ngx_str_t *app, ngx_uint_t full);
static u_char *ngx_http_iot_iotda_item(u_char *p, ngx_iot_iotda_view_t *v,
    ngx_str_t *app, ngx_uint_t full);
static ngx_int_t ngx_http_iot_iotda_send_view(ngx_http_request_t *r,
    ngx_uint_t status, ngx_iot_iotda_view_t *v);
static ngx_buf_t *ngx_http_iot_iotda_list_body(ngx_http_request_t *r,
    ngx_iot_iotda_view_t *out, ngx_uint_t offset, ngx_uint_t found,
    ngx_uint_t count);
static ngx_int_t ngx_http_iot_iotda_list(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx);
static ngx_int_t ngx_http_iot_iotda_list_args(ngx_http_request_t *r,
    ngx_http_iot_iotda_filter_t *f, uint64_t *after, ngx_uint_t *limit,
    ngx_uint_t *offset);
static ngx_uint_t ngx_http_iot_iotda_match(ngx_iot_device_t *d,
    ngx_iot_iotda_t *x, uint64_t grand, void *data);
static ngx_int_t ngx_http_iot_iotda_page(ngx_http_request_t *r,
    ngx_http_iot_iotda_filter_t *f, uint64_t after, ngx_uint_t offset,
    ngx_uint_t limit, ngx_iot_iotda_view_t *out, ngx_uint_t *found,
    ngx_uint_t *count);
static ngx_uint_t ngx_http_iot_iotda_reach(uint64_t cid, void *data);
static ngx_int_t ngx_http_iot_iotda_scanned(void *row, void *data);
static u_char *ngx_http_iot_iotda_node_id(u_char *p, ngx_iot_device_t *d,
    ngx_iot_iotda_t *x);
static ngx_int_t ngx_http_iot_iotda_create(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx);
static ngx_int_t ngx_http_iot_iotda_make_fields(ngx_http_request_t *r,
    json_t *body, ngx_http_iot_iotda_make_t *mk, json_t *doc,
    ngx_http_iot_iotda_made_t *f);
static ngx_int_t ngx_http_iot_iotda_auth_info(ngx_http_request_t *r,
    json_t *auth, ngx_http_iot_iotda_make_t *mk, json_t *doc,
    ngx_str_t *secret);
static ngx_int_t ngx_http_iot_iotda_name_text(ngx_http_request_t *r,
    json_t *obj, const char *name, size_t max, ngx_str_t *out);
static ngx_int_t ngx_http_iot_iotda_extension(ngx_http_request_t *r,
    json_t *body, json_t **out);
static ngx_iot_rc_e ngx_http_iot_iotda_make_edit(ngx_iot_iotda_op_t *op);
static ngx_iot_rc_e ngx_http_iot_iotda_update_edit(ngx_iot_iotda_op_t *op);
static ngx_int_t ngx_http_iot_iotda_created(ngx_http_request_t *r,
    ngx_iot_rc_e rc);
static ngx_int_t ngx_http_iot_iotda_update(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx, ngx_iot_iotda_view_t *v);
static ngx_int_t ngx_http_iot_iotda_delete(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx, ngx_iot_iotda_view_t *v);
static ngx_int_t ngx_http_iot_iotda_deleted(ngx_http_request_t *r,
    ngx_iot_rc_e rc);
static void ngx_http_iot_iotda_json_free(void *data);
static json_t *ngx_http_iot_iotda_json_keep(ngx_http_request_t *r,
    json_t *json);


/*
 * GET /devices: the devices the credentials reach, by their id (the
 * registry's order), limit (1 to 50, default 10) after the marker and
 * offset (0 to 500) more; page.count: how many match in all.
 */

ngx_int_t
ngx_http_iot_iotda_devices(ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx)
{
    if (r->method == NGX_HTTP_POST) {
        return ngx_http_iot_iotda_create(r, ctx);
    }

    return ngx_http_iot_iotda_list(r, ctx);
}


static ngx_int_t
ngx_http_iot_iotda_list(ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx)
{
    uint64_t                      after;
    ngx_int_t                     rc;
    ngx_buf_t                    *b;
    ngx_uint_t                    limit, offset, found, count;
    ngx_iot_iotda_view_t         *out;
    ngx_http_iot_iotda_filter_t   f;

    ngx_memzero(&f, sizeof(ngx_http_iot_iotda_filter_t));
    f.who = &ctx->who;

    rc = ngx_http_iot_iotda_list_args(r, &f, &after, &limit, &offset);

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_DECLINED) {
        return ngx_http_iot_error(r, ctx->status, ctx->message);
    }

    out = ngx_palloc(r->pool,
                     (offset + limit) * sizeof(ngx_iot_iotda_view_t));
    if (out == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (!f.none && f.product == 0 && f.gateway == 0 && f.node_id.len == 0
        && f.device_name.len == 0 && !f.has_start && !f.has_end)
    {
        /* no filter but app_id: the counts of the zone, a page of the store */

        rc = ngx_http_iot_iotda_page(r, &f, after, offset, limit, out, &found,
                                     &count);

    } else {
        f.tmp = ngx_create_pool(1024, r->connection->log);
        if (f.tmp == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        rc = ngx_iot_iotda_select((ngx_cycle_t *) ngx_cycle, after,
                                  ngx_http_iot_iotda_match, &f, r->pool, out,
                                  offset + limit, &found, &count);

        ngx_destroy_pool(f.tmp);
    }

    if (rc != NGX_IOT_OK) {
        return ngx_http_iot_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                  "IOTDA.000003 the devices cannot be read "
                                  "now");
    }

    b = ngx_http_iot_iotda_list_body(r, out, offset, found, count);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_iot_send(r, NGX_HTTP_OK, b);
}


/*
 * Devices are written directly (strings escaped with ngx_escape_json()),
 * not built and dumped with jansson: a page, and a device shown or made,
 * costs what the collections dialect's does.  A device's name is taken
 * from its tags as the bytes of the JSON string (tags are a compact
 * object of strings, so the escaped bytes are valid in the answer as
 * they are), the IoTDA tags as the bytes of the part's "tags" value.
 */

/*
 * The raw bytes of top-level members' values of a JSON object text, in one
 * pass: keys[i]'s value in values[i], its len 0 if it has none.  The text
 * is one the module wrote (compact, valid).  NGX_DECLINED: none found.
 */

static ngx_int_t
ngx_http_iot_iotda_members(u_char *p, size_t len, const char **keys,
    ngx_str_t *values, ngx_uint_t n)
{
    u_char      *last, *start, *kstart, *end;
    ngx_uint_t   i, depth, in_string, key, found;

    for (i = 0; i < n; i++) {
        values[i].len = 0;
        values[i].data = NULL;
    }

    last = p + len;
    depth = 0;
    in_string = 0;
    key = 0;        /* 1 + the index of the key whose value comes next */
    found = 0;
    kstart = NULL;
    start = NULL;

    for ( /* void */ ; p < last && found < n; p++) {

        end = NULL;

        if (in_string) {
            if (*p == '\\') {
                p++;
                continue;
            }

            if (*p != '"') {
                continue;
            }

            in_string = 0;

            if (depth == 1 && kstart) {
                /* the end of a key: one of ours, not seen yet? */

                for (i = 0; i < n; i++) {
                    if (values[i].data == NULL
                        && (size_t) (p - kstart) == ngx_strlen(keys[i])
                        && ngx_strncmp(kstart, keys[i], p - kstart) == 0)
                    {
                        key = i + 1;
                        break;
                    }
                }

                kstart = NULL;
                continue;
            }

            if (start && depth == 1) {
                end = p + 1;
            }

        } else {

            switch (*p) {

            case '"':
                in_string = 1;

                if (depth == 1 && start == NULL) {
                    if (key) {
                        start = p;

                    } else {
                        kstart = p + 1;
                    }
                }

                break;

            case '{':
            case '[':
                if (depth == 1 && key && start == NULL) {
                    start = p;
                }

                depth++;
                break;

            case '}':
            case ']':
                depth--;

                if (start && depth == 1) {
                    end = p + 1;
                }

                break;

            case ',':
                if (depth == 1) {
                    key = 0;
                }

                break;

            default:
                if (depth == 1 && key && start == NULL && *p != ':'
                    && *p != ' ')
                {
                    /* a number, true, false, null */
                    start = p;

                    while (p + 1 < last && p[1] != ',' && p[1] != '}') {
                        p++;
                    }

                    end = p + 1;
                }

                break;
            }
        }

        if (end) {
            /* the end of a value of ours */
            values[key - 1].data = start;
            values[key - 1].len = end - start;
            found++;
            key = 0;
            start = NULL;
        }
    }

    return found ? NGX_OK : NGX_DECLINED;
}


static ngx_int_t
ngx_http_iot_iotda_member(u_char *p, size_t len, const char *key,
    ngx_str_t *value)
{
    return ngx_http_iot_iotda_members(p, len, &key, value, 1);
}


/* the length of a string escaped, with its quotes */

#define ngx_http_iot_iotda_esc_len(s)                                         \
    ((s).len + ngx_escape_json(NULL, (s).data, (s).len) + 2)

/* ,"name":"<s escaped>", name a literal */

#define ngx_http_iot_iotda_esc(p, name, s)                                    \
    ngx_http_iot_iotda_esc_value(ngx_cpymem(p, ",\"" name "\":\"",            \
                                            sizeof(",\"" name "\":\"") - 1), \
                                 s)

static u_char *
ngx_http_iot_iotda_esc_value(u_char *p, ngx_str_t *s)
{
    if (s->len) {
        p = (u_char *) ngx_escape_json(p, s->data, s->len);
    }

    *p++ = '"';

    return p;
}


static ngx_buf_t *
ngx_http_iot_iotda_list_body(ngx_http_request_t *r,
    ngx_iot_iotda_view_t *out, ngx_uint_t offset, ngx_uint_t found,
    ngx_uint_t count)
{
    u_char      *p;
    size_t       size;
    uint64_t     app_cid;
    ngx_str_t    app;
    ngx_buf_t   *b;
    ngx_uint_t   i;

    size = sizeof("{\"devices\":[],\"page\":{\"count\":,\"marker\":\""
                  "000000000000000000000000\"}}") + NGX_INT_T_LEN;

    /* one space's name per change of space: bounded by the page */

    app_cid = 0;
    ngx_str_set(&app, "\"\"");

    for (i = offset; i < found; i++) {
        if (out[i].d.collection_id != app_cid) {
            app_cid = out[i].d.collection_id;

            if (ngx_http_iot_iotda_app_name(r, app_cid, &app) != NGX_OK) {
                return NULL;
            }
        }

        size += ngx_http_iot_iotda_item_size(&out[i], &app, 0) + 1;
    }

    b = ngx_create_temp_buf(r->pool, size);
    if (b == NULL) {
        return NULL;
    }

    p = ngx_cpymem(b->last, "{\"devices\":[", sizeof("{\"devices\":[") - 1);

    app_cid = 0;
    ngx_str_set(&app, "\"\"");

    for (i = offset; i < found; i++) {
        if (out[i].d.collection_id != app_cid) {
            app_cid = out[i].d.collection_id;

            if (ngx_http_iot_iotda_app_name(r, app_cid, &app) != NGX_OK) {
                return NULL;
            }
        }

        if (i > offset) {
            *p++ = ',';
        }

        p = ngx_http_iot_iotda_item(p, &out[i], &app, 0);
    }

    p = ngx_sprintf(p, "],\"page\":{\"count\":%ui", count);

    if (found > offset) {
        p = ngx_sprintf(p, ",\"marker\":\"00000000%016xL\"",
                        out[found - 1].d.id.key);
    }

    p = ngx_cpymem(p, "}}", 2);

    b->last = p;

    return b;
}


/*
 * A resource space's name tag as the bytes of its JSON string, quotes and
 * all (its tags are a compact object of strings, so the escaped bytes are
 * valid in the answer as they are); "" without one (a space gone: "").
 */

static ngx_int_t
ngx_http_iot_iotda_app_name(ngx_http_request_t *r, uint64_t cid,
    ngx_str_t *name)
{
    ngx_iot_collection_t  c;

    ngx_str_set(name, "\"\"");

    if (ngx_iot_collection_get((ngx_cycle_t *) ngx_cycle, cid, r->pool, &c)
        == NGX_IOT_OK
        && c.tags.len
        && ngx_http_iot_iotda_member(c.tags.data, c.tags.len, "name", name)
           == NGX_OK
        && name->data[0] != '"')
    {
        ngx_str_set(name, "\"\"");
    }

    return NGX_OK;
}


#define NGX_HTTP_IOT_IOTDA_MASKED  "********"

/* the members of a device's part an answer shows: tags first, then those
 * only a device's own answer shows */

static const char  *ngx_http_iot_iotda_doc_keys[] = {
    "tags", "fingerprint", "extension_info"
};

/*
 * The fields of a device a list shows; full: those of a device shown,
 * made and changed too (auth_info, times, modules, extension_info).
 * Secrets are never shown; a fingerprint is masked as the spec's example
 * masks it (dc0f****f22f).
 */

static size_t
ngx_http_iot_iotda_item_size(ngx_iot_iotda_view_t *v, ngx_str_t *app,
    ngx_uint_t full)
{
    size_t     size;
    ngx_str_t  description, barcode;

    ngx_iot_device_about(&v->d, &description, &barcode);

    size = sizeof("{\"app_id\":\"\",\"app_name\":,\"device_id\":,"
                  "\"node_id\":,\"gateway_id\":,\"device_name\":\"\","
                  "\"node_type\":\"GATEWAY\",\"description\":,"
                  "\"fw_version\":\"\",\"sw_version\":\"\","
                  "\"device_sdk_version\":\"\",\"product_id\":,"
                  "\"product_name\":,\"status\":\"INACTIVE\","
                  "\"tags\":}")
           + NGX_IOT_ID_LEN
           + app->len
           + ngx_http_iot_iotda_esc_len(v->device_id)
           + ngx_http_iot_iotda_esc_len(v->node_id)
           + ngx_http_iot_iotda_esc_len(v->gateway_id)
           + ngx_http_iot_iotda_esc_len(description)
           + ngx_http_iot_iotda_esc_len(v->product_id)
           + ngx_http_iot_iotda_esc_len(v->product_name)
           + v->d.tags.len + v->doc.len + 16;

    if (full) {
        size += sizeof(",\"auth_info\":{\"auth_type\":\"CERTIFICATES\","
                       "\"secret\":\"" NGX_HTTP_IOT_IOTDA_MASKED "\","
                       "\"secondary_secret\":\""
                       NGX_HTTP_IOT_IOTDA_MASKED "\","
                       "\"fingerprint\":\"0000****0000\","
                       "\"secure_access\":false,\"timeout\":},"
                       "\"create_time\":\"yyyyMMddTHHmmssZ\","
                       "\"connection_status_update_time\":null,"
                       "\"active_time\":null,\"modules\":[],"
                       "\"extension_info\":")
                + NGX_INT_T_LEN + v->doc.len + 2;
    }

    return size;
}


static u_char *
ngx_http_iot_iotda_item(u_char *p, ngx_iot_iotda_view_t *v, ngx_str_t *app,
    ngx_uint_t full)
{
    ngx_str_t          name, tags, description, barcode, fp, ext, status;
    ngx_str_t          type;
    ngx_str_t          doc[3];
    ngx_iot_device_t  *d;

    d = &v->d;

    ngx_iot_device_about(d, &description, &barcode);

    /* the name's bytes as its tags have them, quotes and all */

    ngx_str_set(&name, "\"\"");

    if (d->tags.len
        && ngx_http_iot_iotda_member(d->tags.data, d->tags.len, "name",
                                     &name)
           == NGX_OK
        && name.data[0] != '"')
    {
        ngx_str_set(&name, "\"\"");
    }

    /* the part's tags, fingerprint and extension info, in one pass */

    if (v->doc.len) {
        (void) ngx_http_iot_iotda_members(v->doc.data, v->doc.len,
                                          ngx_http_iot_iotda_doc_keys, doc,
                                          full ? 3 : 1);

    } else {
        ngx_memzero(doc, sizeof(doc));
    }

    tags = doc[0];

    if (tags.len == 0 || tags.data[0] != '[') {
        ngx_str_set(&tags, "[]");
    }

    p = ngx_cpymem(p, "{\"app_id\":\"", sizeof("{\"app_id\":\"") - 1);
    p = ngx_iot_id_encode(p, d->collection_id);
    *p++ = '"';
    p = ngx_cpymem(p, ",\"app_name\":", sizeof(",\"app_name\":") - 1);
    p = ngx_cpymem(p, app->data, app->len);
    p = ngx_http_iot_iotda_esc(p, "device_id", &v->device_id);
    p = ngx_http_iot_iotda_esc(p, "node_id", &v->node_id);
    p = ngx_http_iot_iotda_esc(p, "gateway_id", &v->gateway_id);

    /* a device with a gateway is an endpoint behind it */

    if (v->x.gateway) {
        ngx_str_set(&type, "ENDPOINT");

    } else {
        ngx_str_set(&type, "GATEWAY");
    }

    p = ngx_cpymem(p, ",\"device_name\":", sizeof(",\"device_name\":") - 1);
    p = ngx_cpymem(p, name.data, name.len);
    p = ngx_cpymem(p, ",\"node_type\":\"", sizeof(",\"node_type\":\"") - 1);
    p = ngx_cpymem(p, type.data, type.len);
    *p++ = '"';
    p = ngx_http_iot_iotda_esc(p, "description", &description);
    p = ngx_cpymem(p, ",\"fw_version\":\"\",\"sw_version\":\"\","
                   "\"device_sdk_version\":\"\"",
                   sizeof(",\"fw_version\":\"\",\"sw_version\":\"\","
                          "\"device_sdk_version\":\"\"") - 1);

    if (full) {
        p = ngx_sprintf(p, ",\"auth_info\":{\"auth_type\":\"%s\"",
                        (v->x.flags & NGX_IOT_IOTDA_CERTS) ? "CERTIFICATES"
                                                           : "SECRET");

        if (v->x.flags & NGX_IOT_IOTDA_SECRET) {
            p = ngx_cpymem(p, ",\"secret\":\"" NGX_HTTP_IOT_IOTDA_MASKED "\"",
                           sizeof(",\"secret\":\"" NGX_HTTP_IOT_IOTDA_MASKED
                                  "\"") - 1);
        }

        if (v->x.flags & NGX_IOT_IOTDA_SECONDARY) {
            p = ngx_cpymem(p, ",\"secondary_secret\":\""
                           NGX_HTTP_IOT_IOTDA_MASKED "\"",
                           sizeof(",\"secondary_secret\":\""
                                  NGX_HTTP_IOT_IOTDA_MASKED "\"") - 1);
        }

        /* "<40 or 64 hex digits>", quotes and all */

        fp = doc[1];

        if (fp.len >= 42 && fp.data[0] == '"') {
            p = ngx_sprintf(p, ",\"fingerprint\":\"%*s****%*s\"",
                            (size_t) 4, fp.data + 1,
                            (size_t) 4, fp.data + fp.len - 5);
        }

        p = ngx_sprintf(p, ",\"secure_access\":%s,\"timeout\":%uD}",
                        (v->x.flags & NGX_IOT_IOTDA_INSECURE) ? "false"
                                                              : "true",
                        v->x.timeout);
    }

    p = ngx_http_iot_iotda_esc(p, "product_id", &v->product_id);
    p = ngx_http_iot_iotda_esc(p, "product_name", &v->product_name);

    /* frozen; attached now (it has an address), seen before, never seen */

    ngx_str_set(&status, "INACTIVE");

    if (v->x.flags & NGX_IOT_IOTDA_FROZEN) {
        ngx_str_set(&status, "FROZEN");

    } else if (d->net_family) {
        ngx_str_set(&status, "ONLINE");

    } else if (d->net_at) {
        ngx_str_set(&status, "OFFLINE");
    }

    p = ngx_cpymem(p, ",\"status\":\"", sizeof(",\"status\":\"") - 1);
    p = ngx_cpymem(p, status.data, status.len);
    p = ngx_cpymem(p, "\",\"tags\":", sizeof("\",\"tags\":") - 1);
    p = ngx_cpymem(p, tags.data, tags.len);

    if (full) {
        ext = doc[2];

        if (ext.len == 0 || ext.data[0] != '{') {
            ngx_str_set(&ext, "{}");
        }

        p = ngx_cpymem(p, ",\"create_time\":\"",
                       sizeof(",\"create_time\":\"") - 1);
        p = ngx_http_iot_iotda_time(p, d->created_at);
        p = ngx_cpymem(p, "\",\"connection_status_update_time\":null,"
                       "\"active_time\":null,\"modules\":[],"
                       "\"extension_info\":",
                       sizeof("\",\"connection_status_update_time\":null,"
                              "\"active_time\":null,\"modules\":[],"
                              "\"extension_info\":") - 1);
        p = ngx_cpymem(p, ext.data, ext.len);
    }

    *p++ = '}';

    return p;
}


/* a device shown, made or changed */

static ngx_int_t
ngx_http_iot_iotda_send_view(ngx_http_request_t *r, ngx_uint_t status,
    ngx_iot_iotda_view_t *v)
{
    ngx_str_t   app;
    ngx_buf_t  *b;

    if (ngx_http_iot_iotda_app_name(r, v->d.collection_id, &app) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b = ngx_create_temp_buf(r->pool, ngx_http_iot_iotda_item_size(v, &app, 1));
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = ngx_http_iot_iotda_item(b->last, v, &app, 1);

    return ngx_http_iot_send(r, status, b);
}



/*
 * The query: each argument checked against its rules, unknown ones
 * ignored.  NGX_OK; NGX_DECLINED: ctx->status and ctx->message say why.
 */

static ngx_int_t
ngx_http_iot_iotda_list_args(ngx_http_request_t *r,
    ngx_http_iot_iotda_filter_t *f, uint64_t *after, ngx_uint_t *limit,
    ngx_uint_t *offset)
{
    u_char              *p, *last;
    time_t               t;
    ngx_int_t            rc;
    ngx_str_t            key, value;
    ngx_iot_product_t    prod;

    *after = 0;
    *limit = NGX_HTTP_IOT_IOTDA_LIMIT;
    *offset = 0;

    p = r->args.data;
    last = p + r->args.len;

    while (p < last) {

        rc = ngx_http_iot_iotda_next_arg(r, &p, last, &key, &value);
        if (rc != NGX_OK) {
            return rc;
        }

        rc = ngx_http_iot_iotda_page_arg(r, &key, &value, after, limit,
                                         offset);
        if (rc == NGX_ABORT) {
            return NGX_DECLINED;
        }

        if (rc == NGX_OK) {
            continue;
        }

#define ngx_http_iot_iotda_is(k)                                              \
    (key.len == sizeof(k) - 1 && ngx_strncmp(key.data, k, key.len) == 0)

        if (ngx_http_iot_iotda_is("app_id")) {
            if (!ngx_http_iot_iotda_id_chars(&value, 36)) {
                return ngx_http_iot_iotda_invalid(r, NGX_HTTP_BAD_REQUEST,
                                          "IOTDA.000006 app_id must be 1 to "
                                          "36 letters, digits, _ or -");
            }

            if (ngx_iot_id_decode(value.data, value.len, &f->cid) != NGX_OK
                || !ngx_iot_collection_exists((ngx_cycle_t *) ngx_cycle,
                                              f->cid)
                || !ngx_http_iot_iotda_reaches(f->who, f->cid, 0))
            {
                return ngx_http_iot_iotda_invalid(r, NGX_HTTP_FORBIDDEN,
                                          "IOTDA.001000 the resource space "
                                          "(app_id) does not exist");
            }

        } else if (ngx_http_iot_iotda_is("product_id")
                   || ngx_http_iot_iotda_is("gateway_id"))
        {
            if (!ngx_http_iot_iotda_id_chars(&value,
                                             key.data[0] == 'p' ? 36 : 128))
            {
                return ngx_http_iot_iotda_invalid(r, NGX_HTTP_BAD_REQUEST,
                                          key.data[0] == 'p'
                                          ? "IOTDA.000006 product_id must be "
                                            "1 to 36 letters, digits, _ or -"
                                          : "IOTDA.000006 gateway_id must be "
                                            "1 to 128 letters, digits, _ or "
                                            "-");
            }

            if (key.data[0] == 'p') {
                /* a product that does not exist has no devices */

                rc = ngx_iot_product_get((ngx_cycle_t *) ngx_cycle, &value,
                                         r->pool, &prod);
                if (rc == NGX_IOT_OK) {
                    f->product = prod.id.key;

                } else {
                    f->none = 1;
                }

            } else if (ngx_iot_iotda_resolve((ngx_cycle_t *) ngx_cycle,
                                             &value, &f->gateway)
                       != NGX_IOT_OK)
            {
                f->none = 1;
            }

        } else if (ngx_http_iot_iotda_is("node_id")) {
            if (!ngx_http_iot_iotda_id_chars(&value, 64)) {
                return ngx_http_iot_iotda_invalid(r, NGX_HTTP_BAD_REQUEST,
                                          "IOTDA.000006 node_id must be 1 to "
                                          "64 letters, digits, _ or -");
            }

            f->node_id = value;

        } else if (ngx_http_iot_iotda_is("device_name")) {
            if (value.len == 0 || value.len > 256) {
                return ngx_http_iot_iotda_invalid(r, NGX_HTTP_BAD_REQUEST,
                                          "IOTDA.000006 device_name must be "
                                          "1 to 256 characters");
            }

            f->device_name = value;

        } else if (ngx_http_iot_iotda_is("is_cascade_query")) {
            if (value.len == 4 && ngx_strncmp(value.data, "true", 4) == 0) {
                f->cascade = 1;

            } else if (!(value.len == 5
                         && ngx_strncmp(value.data, "false", 5) == 0))
            {
                return ngx_http_iot_iotda_invalid(r, NGX_HTTP_BAD_REQUEST,
                                          "IOTDA.000006 is_cascade_query "
                                          "must be true or false");
            }

        } else if (ngx_http_iot_iotda_is("start_time")
                   || ngx_http_iot_iotda_is("end_time"))
        {
            if (ngx_http_iot_iotda_date(&value, &t) != NGX_OK) {
                return ngx_http_iot_iotda_invalid(r, NGX_HTTP_BAD_REQUEST,
                                          "IOTDA.000009 start_time and "
                                          "end_time must be "
                                          "yyyyMMdd'T'HHmmss'Z'");
            }

            if (key.data[0] == 's') {
                f->start = (uint64_t) t * 1000;
                f->has_start = 1;

            } else {
                f->end = (uint64_t) t * 1000 + 999;
                f->has_end = 1;
            }
        }

#undef ngx_http_iot_iotda_is
    }

    if (f->has_start && f->has_end && f->start > f->end) {
        return ngx_http_iot_iotda_invalid(r, NGX_HTTP_BAD_REQUEST,
                                  "IOTDA.000010 start_time is after "
                                  "end_time");
    }

    return NGX_OK;
}


/*
 * The next argument of the query, its value decoded: NGX_OK, NGX_ERROR.
 */

ngx_int_t
ngx_http_iot_iotda_next_arg(ngx_http_request_t *r, u_char **pos,
    u_char *last, ngx_str_t *key, ngx_str_t *value)
{
    u_char  *p, *start, *eq, *dst, *src;

    p = *pos;
    start = p;

    while (p < last && *p != '&') {
        p++;
    }

    key->data = start;
    eq = ngx_strlchr(start, p, '=');
    key->len = (eq ? eq : p) - start;

    value->len = 0;
    value->data = (u_char *) "";

    if (eq) {
        value->data = ngx_pnalloc(r->pool, p - eq);
        if (value->data == NULL) {
            return NGX_ERROR;
        }

        src = eq + 1;
        dst = value->data;
        ngx_unescape_uri(&dst, &src, p - eq - 1, NGX_UNESCAPE_URI);
        value->len = dst - value->data;
    }

    *pos = (p < last) ? p + 1 : p;

    return NGX_OK;
}


/*
 * limit (1 to 50), marker (24 hex digits: after the id it names; above
 * every id: from the start), offset (0 to 500).  NGX_OK: taken;
 * NGX_DECLINED: another argument; NGX_ABORT: invalid, noted in ctx.
 */

ngx_int_t
ngx_http_iot_iotda_page_arg(ngx_http_request_t *r, ngx_str_t *key,
    ngx_str_t *value, uint64_t *after, ngx_uint_t *limit,
    ngx_uint_t *offset)
{
    uint64_t    high, low;
    ngx_int_t   n;
    ngx_uint_t  i;

#define ngx_http_iot_iotda_key(k)                                             \
    (key->len == sizeof(k) - 1 && ngx_strncmp(key->data, k, key->len) == 0)

    if (ngx_http_iot_iotda_key("limit")) {
        n = ngx_atoi(value->data, value->len);

        if (n == NGX_ERROR || n < 1 || n > NGX_HTTP_IOT_IOTDA_LIMIT_MAX) {
            (void) ngx_http_iot_iotda_invalid(r, NGX_HTTP_BAD_REQUEST,
                                              "IOTDA.000017 limit must be a "
                                              "number from 1 to 50");
            return NGX_ABORT;
        }

        *limit = n;
        return NGX_OK;
    }

    if (ngx_http_iot_iotda_key("offset")) {
        n = ngx_atoi(value->data, value->len);

        if (n == NGX_ERROR || n > NGX_HTTP_IOT_IOTDA_OFFSET_MAX) {
            (void) ngx_http_iot_iotda_invalid(r, NGX_HTTP_BAD_REQUEST,
                                              "IOTDA.000006 offset must be a "
                                              "number from 0 to 500");
            return NGX_ABORT;
        }

        *offset = n;
        return NGX_OK;
    }

    if (ngx_http_iot_iotda_key("marker")) {
        for (i = 0; i < value->len && isxdigit(value->data[i]); i++) {
            /* void */
        }

        if (value->len != 24 || i != 24) {
            (void) ngx_http_iot_iotda_invalid(r, NGX_HTTP_BAD_REQUEST,
                                              "IOTDA.000018 marker must be "
                                              "24 hex digits");
            return NGX_ABORT;
        }

        high = ngx_hextoi(value->data, 8);
        low = (uint64_t) ngx_hextoi(value->data + 8, 8) << 32
              | (uint64_t) ngx_hextoi(value->data + 16, 8);

        /* beyond every id (the default, all f): from the start */
        *after = high ? 0 : low;

        return NGX_OK;
    }

#undef ngx_http_iot_iotda_key

    return NGX_DECLINED;
}


/* the paging arguments and app_id of a list (products) */

ngx_int_t
ngx_http_iot_iotda_page_args(ngx_http_request_t *r, uint64_t *after,
    ngx_uint_t *limit, ngx_uint_t *offset, ngx_str_t *app_id)
{
    u_char     *p, *last;
    ngx_int_t   rc;
    ngx_str_t   key, value;

    *after = 0;
    *limit = NGX_HTTP_IOT_IOTDA_LIMIT;
    *offset = 0;
    ngx_str_null(app_id);

    p = r->args.data;
    last = p + r->args.len;

    while (p < last) {

        if (ngx_http_iot_iotda_next_arg(r, &p, last, &key, &value) != NGX_OK)
        {
            return NGX_ERROR;
        }

        rc = ngx_http_iot_iotda_page_arg(r, &key, &value, after, limit,
                                         offset);

        if (rc == NGX_ABORT) {
            return NGX_DECLINED;
        }

        if (rc == NGX_DECLINED
            && key.len == sizeof("app_id") - 1
            && ngx_strncmp(key.data, "app_id", key.len) == 0)
        {
            if (!ngx_http_iot_iotda_id_chars(&value, 36)) {
                return ngx_http_iot_iotda_invalid(r, NGX_HTTP_BAD_REQUEST,
                                                  "IOTDA.000006 app_id must "
                                                  "be 1 to 36 letters, "
                                                  "digits, _ or -");
            }

            *app_id = value;
        }
    }

    return NGX_OK;
}


/* 1 to max of A-Z a-z 0-9 _ - */

ngx_uint_t
ngx_http_iot_iotda_id_chars(ngx_str_t *s, size_t max)
{
    size_t  i;
    u_char  c;

    if (s->len == 0 || s->len > max) {
        return 0;
    }

    for (i = 0; i < s->len; i++) {
        c = s->data[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '_' || c == '-'))
        {
            return 0;
        }
    }

    return 1;
}


/*
 * A list without filters (but app_id): page.count from the collections'
 * counts of devices, the page from the store in id order (as the
 * collections dialect's lists): its cost is the page's, not the
 * registry's.  out[] holds offset + found views as the walk would.
 */

typedef struct {
    ngx_http_iot_iotda_filter_t   *f;
    uint64_t                      *ids;
    ngx_uint_t                     n;
    ngx_uint_t                     want;
    ngx_uint_t                     skip;
} ngx_http_iot_iotda_scan_t;


static ngx_int_t
ngx_http_iot_iotda_page(ngx_http_request_t *r, ngx_http_iot_iotda_filter_t *f,
    uint64_t after, ngx_uint_t offset, ngx_uint_t limit,
    ngx_iot_iotda_view_t *out, ngx_uint_t *found, ngx_uint_t *count)
{
    ngx_int_t                   rc;
    ngx_uint_t                  k;
    ngx_iot_store_t            *store;
    ngx_iot_store_cursor_t      cur;
    ngx_http_iot_iotda_scan_t   s;

    *found = 0;
    *count = ngx_iot_iotda_count((ngx_cycle_t *) ngx_cycle, f->cid,
                                 ngx_http_iot_iotda_reach, f->who);

    store = ngx_iot_store_get((ngx_cycle_t *) ngx_cycle, r->connection->log);

    if (store == NULL
        || ngx_iot_store_usable(store, r->connection->log) != NGX_OK)
    {
        return NGX_IOT_STORE_ERROR;
    }

    s.f = f;
    s.ids = ngx_palloc(r->pool, (limit + 1) * sizeof(uint64_t));
    s.n = 0;
    s.want = limit;
    s.skip = offset;

    if (s.ids == NULL) {
        return NGX_IOT_STORE_ERROR;
    }

    ngx_memzero(&cur, sizeof(ngx_iot_store_cursor_t));
    cur.kind = NGX_IOT_STORE_DEVICES;
    cur.scope = f->cid;
    cur.id = after;
    cur.started = 1;           /* from after, not from the start */

    do {
        rc = ngx_iot_store_list(store, &cur, 64, ngx_http_iot_iotda_scanned,
                                &s, r->connection->log);
    } while (rc == NGX_OK && !cur.done);

    if (rc == NGX_ERROR) {
        return NGX_IOT_STORE_ERROR;
    }

    /* the devices as the zone has them now (one deleted meanwhile: not) */

    if (ngx_iot_iotda_views((ngx_cycle_t *) ngx_cycle, s.ids, s.n, r->pool,
                            out + offset, &k)
        != NGX_IOT_OK)
    {
        return NGX_IOT_STORE_ERROR;
    }

    *found = k ? offset + k : 0;

    return NGX_IOT_OK;
}


static ngx_uint_t
ngx_http_iot_iotda_reach(uint64_t cid, void *data)
{
    return ngx_http_iot_iotda_reaches(data, cid, 0);
}


static ngx_int_t
ngx_http_iot_iotda_scanned(void *row, void *data)
{
    ngx_http_iot_iotda_scan_t  *s = data;

    ngx_iot_device_t  *d = row;

    if (!ngx_http_iot_iotda_reaches(s->f->who, d->collection_id, 0)) {
        return NGX_OK;
    }

    if (s->skip) {
        s->skip--;
        return NGX_OK;
    }

    s->ids[s->n++] = d->id.key;

    return (s->n == s->want) ? NGX_DONE : NGX_OK;
}


/* a device of the zone, under its read lock */

static ngx_uint_t
ngx_http_iot_iotda_match(ngx_iot_device_t *d, ngx_iot_iotda_t *x,
    uint64_t grand, void *data)
{
    ngx_http_iot_iotda_filter_t  *f = data;

    u_char      text[NGX_IOT_IOTDA_NODE_MAX];
    u_char     *last;
    ngx_int_t   rc;
    ngx_uint_t  match;
    ngx_str_t   name;

    static ngx_str_t  key = ngx_string("name");

    if (f->none
        || (f->cid && d->collection_id != f->cid)
        || !ngx_http_iot_iotda_reaches(f->who, d->collection_id, 0)
        || (f->has_start && d->created_at < f->start)
        || (f->has_end && d->created_at > f->end))
    {
        return 0;
    }

    if (f->product && (x == NULL || x->product != f->product)) {
        return 0;
    }

    /* children of the gateway, and with is_cascade_query theirs too */

    if (f->gateway
        && (x == NULL
            || !(x->gateway == f->gateway
                 || (f->cascade && grand == f->gateway))))
    {
        return 0;
    }

    if (f->node_id.len) {
        last = ngx_http_iot_iotda_node_id(text, d, x);

        if ((size_t) (last - text) != f->node_id.len
            || ngx_strncmp(text, f->node_id.data, f->node_id.len) != 0)
        {
            return 0;
        }
    }

    if (f->device_name.len) {
        rc = ngx_iot_tags_get(&d->tags, &key, f->tmp, &name);

        match = (rc == NGX_OK && name.len == f->device_name.len
                 && ngx_strncmp(name.data, f->device_name.data, name.len)
                    == 0);

        /* the name is in the pool: compared before the pool lets it go */
        ngx_reset_pool(f->tmp);

        if (!match) {
            return 0;
        }
    }

    return 1;
}


/* node_id: its part's, else the IMEI, else the IMSI, else the device's id */

static u_char *
ngx_http_iot_iotda_node_id(u_char *p, ngx_iot_device_t *d,
    ngx_iot_iotda_t *x)
{
    if (x && x->ids.len > x->did_len) {
        return ngx_cpymem(p, x->ids.data + x->did_len,
                          ngx_min(x->ids.len - x->did_len,
                                  NGX_IOT_IOTDA_NODE_MAX));
    }

    if (d->imei.key) {
        return ngx_iot_ident_encode(p, d->imei.key);
    }

    if (d->imsi.key) {
        return ngx_iot_ident_encode(p, d->imsi.key);
    }

    return ngx_iot_id_encode(p, d->id.key);
}


/*
 * The device a path names ({device_id}: an IoTDA device id or the
 * device's id of the registry), as the credentials reach it; a device
 * they do not reach does not exist for them.  NGX_OK; NGX_DECLINED:
 * ctx->status and ctx->message say why.
 */

ngx_int_t
ngx_http_iot_iotda_target(ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx,
    ngx_uint_t write, ngx_uint_t model, ngx_iot_iotda_view_t *v)
{
    uint64_t      id;
    ngx_iot_rc_e  rc;

    rc = ngx_iot_iotda_resolve((ngx_cycle_t *) ngx_cycle, &ctx->seg[2], &id);

    if (rc == NGX_IOT_OK) {
        rc = ngx_iot_iotda_view((ngx_cycle_t *) ngx_cycle, id, r->pool,
                                model, v);
    }

    if (rc == NGX_IOT_NOT_FOUND
        || (rc == NGX_IOT_OK
            && !ngx_http_iot_iotda_reaches(&ctx->who, v->d.collection_id,
                                           write)))
    {
        return ngx_http_iot_iotda_invalid(r, NGX_HTTP_NOT_FOUND,
                                          "IOTDA.014000 the device does not "
                                          "exist");
    }

    if (rc != NGX_IOT_OK) {
        return ngx_http_iot_iotda_invalid(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                          "IOTDA.000003 the device cannot be "
                                          "read now");
    }

    ngx_http_iot_acted_on(r, v->d.collection_id, v->d.id.key);

    return NGX_OK;
}


/* GET, PUT, DELETE /devices/{device_id} */

ngx_int_t
ngx_http_iot_iotda_device(ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx)
{
    ngx_int_t              rc;
    ngx_iot_iotda_view_t  *v;

    v = ngx_palloc(r->pool, sizeof(ngx_iot_iotda_view_t));
    if (v == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_iot_iotda_target(r, ctx, r->method != NGX_HTTP_GET, 0, v);
    if (rc != NGX_OK) {
        return ngx_http_iot_error(r, ctx->status, ctx->message);
    }

    if (r->method == NGX_HTTP_PUT) {
        return ngx_http_iot_iotda_update(r, ctx, v);
    }

    if (r->method == NGX_HTTP_DELETE) {
        return ngx_http_iot_iotda_delete(r, ctx, v);
    }

    return ngx_http_iot_iotda_send_view(r, NGX_HTTP_OK, v);
}


/*
 * POST /devices: every field of the spec checked, then the device and
 * its part made in one write.  The checks that need the zone as it is
 * (ids taken, the gateway, the product) are the edit's, in the write.
 */

static ngx_int_t
ngx_http_iot_iotda_create(ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx)
{
    u_char                     *p;
    json_t                     *body, *doc, *v, *tags, *model;
    uint64_t                    imei;
    ngx_int_t                   n;
    ngx_str_t                   app, pid, name, description, secret;
    ngx_iot_rc_e                rc;
    ngx_iot_wait_t             *wait;
    ngx_iot_product_t           prod;
    ngx_iot_iotda_op_t         *op;
    ngx_iot_device_change_t     ch;
    ngx_http_iot_iotda_made_t   f;
    ngx_http_iot_iotda_make_t  *mk;

    body = ctx->body;

    op = ngx_pcalloc(r->pool, sizeof(ngx_iot_iotda_op_t));
    mk = ngx_pcalloc(r->pool, sizeof(ngx_http_iot_iotda_make_t));
    doc = ngx_http_iot_iotda_json_keep(r, json_object());
    tags = ngx_http_iot_iotda_json_keep(r, json_object());

    if (op == NULL || mk == NULL || doc == NULL || tags == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    n = ngx_http_iot_iotda_make_fields(r, body, mk, doc, &f);

    if (n == NGX_DECLINED) {
        return ngx_http_iot_error(r, ctx->status, ctx->message);
    }

    if (n != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    name = f.name;
    pid = f.product_id;
    description = f.description;
    app = f.app_id;
    secret = f.secret;

    /* the product, and the resource space: app_id, else the product's */

    rc = ngx_iot_product_get((ngx_cycle_t *) ngx_cycle, &pid, r->pool, &prod);

    if (rc == NGX_IOT_OK
        && !ngx_http_iot_iotda_reaches(&ctx->who, prod.collection_id, 1))
    {
        rc = NGX_IOT_NOT_FOUND;
    }

    if (rc == NGX_IOT_NOT_FOUND) {
        return ngx_http_iot_error(r, NGX_HTTP_BAD_REQUEST,
                                  "IOTDA.009002 the product (product_id) "
                                  "does not exist");
    }

    if (rc != NGX_IOT_OK) {
        return ngx_http_iot_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                  "IOTDA.000003 the product cannot be read "
                                  "now");
    }

    mk->product = prod.id.key;
    mk->cid = prod.collection_id;

    if (app.len) {
        if (ngx_iot_id_decode(app.data, app.len, &mk->cid) != NGX_OK
            || !ngx_iot_collection_exists((ngx_cycle_t *) ngx_cycle,
                                          mk->cid)
            || !ngx_http_iot_iotda_reaches(&ctx->who, mk->cid, 1))
        {
            return ngx_http_iot_error(r, NGX_HTTP_FORBIDDEN,
                                      "IOTDA.001000 the resource space "
                                      "(app_id) does not exist");
        }

        if (mk->cid != prod.collection_id) {
            return ngx_http_iot_error(r, NGX_HTTP_BAD_REQUEST,
                                      "IOTDA.000006 product_id: the product "
                                      "is not of the resource space app_id");
        }
    }

    /*
     * the shadow: the product's defaults, then the request's; a model
     * without defaults and a request without a shadow need no parsing,
     * and a doc of the defaults alone is the product's, made once
     */

    v = json_object_get(body, "shadow");
    model = NULL;

    if ((v == NULL || json_is_null(v)) && json_object_size(doc) == 0) {
        if (prod.model.len == 0) {
            ngx_str_set(&mk->doc, "{}");

        } else if (ngx_http_iot_iotda_model_initial(r, prod.model.data,
                                                    prod.model.len,
                                                    &mk->doc)
                   != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

    } else {
        if (prod.model.len
            && ((v && !json_is_null(v))
                || ngx_strlcasestrn(prod.model.data,
                                    prod.model.data + prod.model.len,
                                    (u_char *) "\"default_value\"",
                                    sizeof("\"default_value\"") - 2)
                   != NULL))
        {
            model = ngx_http_iot_iotda_model_json(r, prod.model.data,
                                                  prod.model.len);
            if (model == NULL) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }
        }

        n = ngx_http_iot_iotda_shadow_initial(r, model, v, doc);
        if (n == NGX_DECLINED) {
            return ngx_http_iot_error(r, ctx->status, ctx->message);
        }

        if (n != NGX_OK
            || ngx_http_iot_iotda_json_text(r->pool, doc, &mk->doc) != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    /* device_id: product_id _ node_id unless given */

    if (mk->did.len == 0) {
        p = ngx_pnalloc(r->pool, pid.len + 1 + mk->node.len);
        if (p == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        mk->did.data = p;
        p = ngx_cpymem(p, pid.data, pid.len);
        *p++ = '_';
        p = ngx_cpymem(p, mk->node.data, mk->node.len);
        mk->did.len = p - mk->did.data;
    }

    /* the device: a node id that is an IMEI is its IMEI */

    ngx_memzero(&ch, sizeof(ngx_iot_device_change_t));
    ch.collection_id = mk->cid;
    ngx_memcpy(ch.by, ctx->who.id, NGX_IOT_UUID_SIZE);

    imei = ngx_iot_iotda_imei(mk->node.data, mk->node.len);

    if (imei) {
        ch.imei = imei;
        ngx_str_null(&mk->node);
    }

    if (name.len) {
        v = json_stringn((char *) name.data, name.len);

        if (v == NULL || json_object_set_new(tags, "name", v) != 0) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ch.tags = tags;
    }

    ch.things = 1;
    ch.description = description;

    op->edit = ngx_http_iot_iotda_make_edit;
    op->data = mk;
    op->status = NGX_HTTP_CREATED;
    op->set_secret = 1;
    op->secret = secret;
    ch.side = ngx_iot_iotda_side(op);

    wait = ngx_http_iot_waiter(r, ngx_http_iot_iotda_created, op);
    if (wait == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_iot_device_create((ngx_cycle_t *) ngx_cycle, &ch, r->pool,
                               &wait->out.d, r->connection->log, wait);

    return ngx_http_iot_answer(r, rc);
}


/*
 * The fields of a device made, each by its rule: its ids and gateway
 * into mk, auth_info's into mk and doc (its secret into f), the others
 * into f; extension_info into doc too.  NGX_OK; NGX_DECLINED: ctx->status
 * and ctx->message say why; NGX_ERROR.
 */

static ngx_int_t
ngx_http_iot_iotda_make_fields(ngx_http_request_t *r, json_t *body,
    ngx_http_iot_iotda_make_t *mk, json_t *doc, ngx_http_iot_iotda_made_t *f)
{
    ngx_memzero(f, sizeof(ngx_http_iot_iotda_made_t));

    if (ngx_http_iot_iotda_text(r, body, "device_id", 0,
                                NGX_IOT_IOTDA_DID_MAX, 1, &mk->did)
        != NGX_OK
        || ngx_http_iot_iotda_text(r, body, "node_id", 1,
                                   NGX_IOT_IOTDA_NODE_MAX, 1, &mk->node)
           != NGX_OK
        || ngx_http_iot_iotda_name_text(r, body, "device_name", 256,
                                        &f->name)
           != NGX_OK
        || ngx_http_iot_iotda_text(r, body, "product_id", 1,
                                   NGX_IOT_PRODUCT_ID_MAX, 1, &f->product_id)
           != NGX_OK
        || ngx_http_iot_iotda_name_text(r, body, "description", 2048,
                                        &f->description)
           != NGX_OK
        || ngx_http_iot_iotda_text(r, body, "gateway_id", 0,
                                   NGX_IOT_IOTDA_DID_MAX, 1, &mk->gateway)
           != NGX_OK
        || ngx_http_iot_iotda_text(r, body, "app_id", 0, 36, 1, &f->app_id)
           != NGX_OK
        || ngx_http_iot_iotda_extension(r, body, &f->extension) != NGX_OK
        || ngx_http_iot_iotda_auth_info(r, json_object_get(body,
                                                           "auth_info"),
                                        mk, doc, &f->secret)
           != NGX_OK)
    {
        return NGX_DECLINED;
    }

    if (f->extension
        && json_object_set(doc, "extension_info", f->extension) != 0)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * auth_info: SECRET (the default) with an 8 to 32 character secret, or
 * CERTIFICATES with a fingerprint of 40 or 64 hex digits; secure_access
 * (default true), timeout (0 to 2147483647).  The fingerprint goes into
 * the part's JSON, the secret into the store only.
 */

static ngx_int_t
ngx_http_iot_iotda_auth_info(ngx_http_request_t *r, json_t *auth,
    ngx_http_iot_iotda_make_t *mk, json_t *doc, ngx_str_t *secret)
{
    json_t      *v;
    size_t       i;
    ngx_str_t    type, fp;
    json_int_t   n;

    if (auth == NULL || json_is_null(auth)) {
        return NGX_OK;
    }

    if (!json_is_object(auth)) {
        return ngx_http_iot_iotda_invalid(r, NGX_HTTP_BAD_REQUEST,
                                          "IOTDA.000006 auth_info must be an "
                                          "object");
    }

    if (ngx_http_iot_iotda_text(r, auth, "auth_type", 0, 16, 0, &type)
        != NGX_OK
        || ngx_http_iot_iotda_text(r, auth, "secret", 0, 32, 1, secret)
           != NGX_OK
        || ngx_http_iot_iotda_text(r, auth, "fingerprint", 0, 64, 0, &fp)
           != NGX_OK)
    {
        return NGX_DECLINED;
    }

    if (type.len == sizeof("CERTIFICATES") - 1
        && ngx_strncmp(type.data, "CERTIFICATES", type.len) == 0)
    {
        mk->flags |= NGX_IOT_IOTDA_CERTS;

        if (secret->len) {
            return ngx_http_iot_iotda_invalid(r, NGX_HTTP_BAD_REQUEST,
                                              "IOTDA.000006 secret: a device "
                                              "of auth_type CERTIFICATES has "
                                              "no secret");
        }

    } else if (type.len == sizeof("SECRET") - 1
               && ngx_strncmp(type.data, "SECRET", type.len) == 0)
    {
        if (secret->len == 0) {
            return ngx_http_iot_iotda_invalid(r, NGX_HTTP_BAD_REQUEST,
                                              "IOTDA.000006 secret is "
                                              "required with auth_type "
                                              "SECRET");
        }

    } else if (type.len) {
        return ngx_http_iot_iotda_invalid(r, NGX_HTTP_BAD_REQUEST,
                                          "IOTDA.000006 auth_type must be "
                                          "SECRET or CERTIFICATES");
    }

    if (secret->len && secret->len < 8) {
        return ngx_http_iot_iotda_invalid(r, NGX_HTTP_BAD_REQUEST,
                                          "IOTDA.000006 secret must be 8 to "
                                          "32 letters, digits, _ or -");
    }

    if (secret->len) {
        mk->flags |= NGX_IOT_IOTDA_SECRET;
    }

    if (fp.len) {
        for (i = 0; i < fp.len && isxdigit(fp.data[i]); i++) {
            /* void */
        }

        if ((fp.len != 40 && fp.len != 64) || i != fp.len) {
            return ngx_http_iot_iotda_invalid(r, NGX_HTTP_BAD_REQUEST,
                                              "IOTDA.000006 fingerprint must "
                                              "be 40 or 64 hex digits");
        }

        if (!(mk->flags & NGX_IOT_IOTDA_CERTS)) {
            return ngx_http_iot_iotda_invalid(r, NGX_HTTP_BAD_REQUEST,
                                              "IOTDA.000006 fingerprint: "
                                              "only a device of auth_type "
                                              "CERTIFICATES has one");
        }

        if (json_object_set_new(doc, "fingerprint",
                                json_stringn((char *) fp.data, fp.len))
            != 0)
        {
            return NGX_ERROR;
        }
    }

    v = json_object_get(auth, "secure_access");

    if (v && !json_is_null(v)) {
        if (!json_is_boolean(v)) {
            return ngx_http_iot_iotda_invalid(r, NGX_HTTP_BAD_REQUEST,
                                              "IOTDA.000006 secure_access "
                                              "must be true or false");
        }

        mk->set_flags = 1;

        if (json_is_false(v)) {
            mk->flags |= NGX_IOT_IOTDA_INSECURE;
        }
    }

    v = json_object_get(auth, "timeout");

    if (v && !json_is_null(v)) {
        n = json_is_integer(v) ? json_integer_value(v) : -1;

        if (n < 0 || n > 2147483647) {
            return ngx_http_iot_iotda_invalid(r, NGX_HTTP_BAD_REQUEST,
                                              "IOTDA.000006 timeout must be "
                                              "a number from 0 to "
                                              "2147483647");
        }

        mk->timeout = (uint32_t) n;
        mk->set_timeout = 1;
    }

    return NGX_OK;
}


/*
 * device_name and description: at most max characters of letters (any
 * script), digits, space and _?'#().,&%@!-  The spec's lists leave out
 * the space, its own examples use it ("watermeter device").
 */

static ngx_int_t
ngx_http_iot_iotda_name_text(ngx_http_request_t *r, json_t *obj,
    const char *name, size_t max, ngx_str_t *out)
{
    u_char  *msg, c;
    size_t   i, n;

    if (ngx_http_iot_iotda_text(r, obj, name, 0, max, 0, out) != NGX_OK) {
        return NGX_DECLINED;
    }

    for (i = 0; i < out->len; i++) {
        c = out->data[i];

        if (c >= 0x80 || isalnum(c) || c == ' '
            || ngx_strchr("_?'#().,&%@!-", c) != NULL)
        {
            continue;
        }

        n = sizeof("IOTDA.000006  may hold only letters, digits, spaces "
                   "and _?'#().,&%@!-") + ngx_strlen(name);

        msg = ngx_pnalloc(r->pool, n);
        if (msg == NULL) {
            return NGX_ERROR;
        }

        (void) ngx_snprintf(msg, n, "IOTDA.000006 %s may hold only letters, "
                            "digits, spaces and _?'#().,&%%@!-%Z", name);

        return ngx_http_iot_iotda_invalid(r, NGX_HTTP_BAD_REQUEST,
                                          (char *) msg);
    }

    return NGX_OK;
}


/* extension_info: an object of at most 1 KB (as compact JSON) */

static ngx_int_t
ngx_http_iot_iotda_extension(ngx_http_request_t *r, json_t *body,
    json_t **out)
{
    json_t  *v;

    *out = NULL;

    v = json_object_get(body, "extension_info");

    if (v == NULL || json_is_null(v)) {
        return NGX_OK;
    }

    if (!json_is_object(v)
        || json_dumpb(v, NULL, 0, JSON_COMPACT) > 1024)
    {
        return ngx_http_iot_iotda_invalid(r, NGX_HTTP_BAD_REQUEST,
                                          "IOTDA.000006 extension_info must "
                                          "be an object of at most 1 KB");
    }

    *out = v;

    return NGX_OK;
}


/*
 * The part of a new device, under the zone's lock: its ids free, its
 * gateway there (of its resource space, at most two levels below a
 * directly connected device), its product there.
 */

static ngx_iot_rc_e
ngx_http_iot_iotda_make_edit(ngx_iot_iotda_op_t *op)
{
    ngx_http_iot_iotda_make_t  *mk = op->data;

    u_char               *p;
    uint64_t              gid;
    ngx_iot_iotda_t      *gx;
    ngx_iot_device_t     *g;
    ngx_iot_store_key_t   key;

    if (ngx_iot_iotda_did_taken(op->ctx, mk->did.data, mk->did.len,
                                op->device_id))
    {
        op->why = NGX_IOT_IOTDA_WHY_DID;
        return NGX_IOT_EXISTS;
    }

    if (mk->node.len
        && ngx_iot_iotda_node_taken(op->ctx, mk->node.data, mk->node.len,
                                    op->device_id))
    {
        op->why = NGX_IOT_IOTDA_WHY_NODE;
        return NGX_IOT_EXISTS;
    }

    key.id = mk->product;
    key.data = NULL;
    key.len = 0;

    if (ngx_iot_entity_find(op->ctx, NGX_IOT_ENTITY_PRODUCT, &key) == NULL) {
        op->why = NGX_IOT_IOTDA_WHY_PRODUCT;
        return NGX_IOT_NOT_FOUND;
    }

    op->row.depth = 0;
    op->row.gateway = 0;

    if (mk->gateway.len) {
        gx = ngx_iot_iotda_find_did(op->ctx, mk->gateway.data,
                                    mk->gateway.len);
        gid = 0;

        if (gx) {
            gid = gx->id.key;

        } else if (ngx_iot_id_decode(mk->gateway.data, mk->gateway.len, &gid)
                   != NGX_OK)
        {
            gid = 0;
        }

        g = gid ? ngx_iot_device_find(op->ctx, gid) : NULL;

        if (g == NULL || g->collection_id != mk->cid) {
            op->why = NGX_IOT_IOTDA_WHY_GATEWAY;
            return NGX_IOT_NOT_FOUND;
        }

        gx = ngx_iot_iotda_find(op->ctx, gid);

        if (gx && gx->depth >= 2) {
            op->why = NGX_IOT_IOTDA_WHY_DEPTH;
            return NGX_IOT_NOT_FOUND;
        }

        op->row.gateway = gid;
        op->row.depth = (u_char) ((gx ? gx->depth : 0) + 1);
    }

    p = ngx_pnalloc(op->pool, mk->did.len + mk->node.len);
    if (p == NULL) {
        return NGX_IOT_STORE_ERROR;
    }

    op->ids.data = p;
    p = ngx_cpymem(p, mk->did.data, mk->did.len);
    p = ngx_cpymem(p, mk->node.data, mk->node.len);
    op->ids.len = p - op->ids.data;

    op->row.did_len = (uint16_t) mk->did.len;
    op->row.product = mk->product;
    op->row.flags = mk->flags;
    op->row.timeout = mk->timeout;
    op->doc = mk->doc;

    return NGX_IOT_OK;
}


static ngx_int_t
ngx_http_iot_iotda_created(ngx_http_request_t *r, ngx_iot_rc_e rc)
{
    ngx_http_iot_ctx_t    *ctx;
    ngx_iot_iotda_op_t    *op;
    ngx_iot_iotda_view_t   v;

    ctx = ngx_http_get_module_ctx(r, ngx_http_iot_module);
    op = ctx->answer_data;

    if (rc != NGX_IOT_OK) {
        return ngx_http_iot_iotda_write_error(r, rc, op);
    }

    ngx_http_iot_acted_on(r, ctx->wait.out.d.collection_id,
                          ctx->wait.out.d.id.key);

    if (ngx_iot_iotda_view((ngx_cycle_t *) ngx_cycle, ctx->wait.out.d.id.key,
                           r->pool, 0, &v)
        != NGX_IOT_OK)
    {
        return ngx_http_iot_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                  "IOTDA.000003 the device was made but "
                                  "cannot be read now");
    }

    return ngx_http_iot_iotda_send_view(r, op->status, &v);
}


/*
 * PUT /devices/{device_id}: device_name, description, extension_info,
 * auth_info's secure_access and timeout, each when given.
 */

static ngx_int_t
ngx_http_iot_iotda_update(ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx,
    ngx_iot_iotda_view_t *v)
{
    json_t                     *tags, *auth, *val;
    ngx_str_t                   name, description, barcode, secret;
    ngx_iot_rc_e                rc;
    ngx_iot_wait_t             *wait;
    ngx_iot_iotda_op_t         *op;
    ngx_iot_device_change_t     ch;
    ngx_http_iot_iotda_make_t  *mk;

    op = ngx_pcalloc(r->pool, sizeof(ngx_iot_iotda_op_t));
    mk = ngx_pcalloc(r->pool, sizeof(ngx_http_iot_iotda_make_t));
    tags = ngx_http_iot_iotda_json_keep(r, json_object());

    if (op == NULL || mk == NULL || tags == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    auth = json_object_get(ctx->body, "auth_info");

    if (ngx_http_iot_iotda_name_text(r, ctx->body, "device_name", 256, &name)
        != NGX_OK
        || ngx_http_iot_iotda_name_text(r, ctx->body, "description", 2048,
                                        &description)
           != NGX_OK
        || ngx_http_iot_iotda_extension(r, ctx->body, &mk->extension)
           != NGX_OK)
    {
        return ngx_http_iot_error(r, ctx->status, ctx->message);
    }

    if (auth && !json_is_null(auth)) {
        if (!json_is_object(auth)
            || json_object_get(auth, "auth_type")
            || json_object_get(auth, "secret")
            || json_object_get(auth, "fingerprint"))
        {
            return ngx_http_iot_error(r, NGX_HTTP_BAD_REQUEST,
                                      "IOTDA.000006 auth_info: only "
                                      "secure_access and timeout change "
                                      "here (reset the secret with "
                                      "action_id=resetSecret)");
        }

        if (ngx_http_iot_iotda_auth_info(r, auth, mk, NULL, &secret)
            != NGX_OK)
        {
            return ngx_http_iot_error(r, ctx->status, ctx->message);
        }
    }

    ngx_memzero(&ch, sizeof(ngx_iot_device_change_t));
    ngx_memcpy(ch.by, ctx->who.id, NGX_IOT_UUID_SIZE);

    if (name.len) {
        val = json_stringn((char *) name.data, name.len);

        if (val == NULL || json_object_set_new(tags, "name", val) != 0) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ch.tags = tags;
    }

    if (json_object_get(ctx->body, "description")) {
        /* the things dialect's fields: all of them, the others as they are */

        ngx_iot_device_about(&v->d, &description, &barcode);
        (void) ngx_http_iot_iotda_name_text(r, ctx->body, "description",
                                            2048, &description);

        ch.things = 1;
        ch.status = v->d.status;
        ngx_memcpy(ch.spec, v->d.spec, NGX_IOT_UUID_SIZE);
        ch.description = description;
        ch.barcode = barcode;
    }

    if (mk->extension || mk->set_flags || mk->set_timeout) {
        op->edit = ngx_http_iot_iotda_update_edit;
        op->data = mk;
        ch.side = ngx_iot_iotda_side(op);
    }

    wait = ngx_http_iot_waiter(r, ngx_http_iot_iotda_created, op);
    if (wait == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    op->status = NGX_HTTP_OK;

    rc = ngx_iot_device_update((ngx_cycle_t *) ngx_cycle, v->d.id.key,
                               v->d.collection_id, &ch, r->pool,
                               &wait->out.d, r->connection->log, wait);

    return ngx_http_iot_answer(r, rc);
}


static ngx_iot_rc_e
ngx_http_iot_iotda_update_edit(ngx_iot_iotda_op_t *op)
{
    ngx_http_iot_iotda_make_t  *mk = op->data;

    json_t  *doc;

    if (mk->set_flags) {
        op->row.flags = (op->row.flags & ~NGX_IOT_IOTDA_INSECURE)
                        | (mk->flags & NGX_IOT_IOTDA_INSECURE);
    }

    if (mk->set_timeout) {
        op->row.timeout = mk->timeout;
    }

    if (mk->extension == NULL) {
        return NGX_IOT_OK;
    }

    doc = json_loadb((char *) op->doc.data, op->doc.len, 0, NULL);

    if (doc == NULL || !json_is_object(doc)
        || json_object_set(doc, "extension_info", mk->extension) != 0)
    {
        json_decref(doc);
        return NGX_IOT_STORE_ERROR;
    }

    if (ngx_http_iot_iotda_json_text(op->pool, doc, &op->doc) != NGX_OK) {
        json_decref(doc);
        return NGX_IOT_STORE_ERROR;
    }

    json_decref(doc);

    return NGX_IOT_OK;
}


/* DELETE /devices/{device_id}: 204; a gateway with children stays */

static ngx_int_t
ngx_http_iot_iotda_delete(ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx,
    ngx_iot_iotda_view_t *v)
{
    ngx_iot_rc_e     rc;
    ngx_iot_wait_t  *wait;

    wait = ngx_http_iot_waiter(r, ngx_http_iot_iotda_deleted, NULL);
    if (wait == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_iot_device_delete((ngx_cycle_t *) ngx_cycle, v->d.id.key,
                               v->d.collection_id, r->connection->log, wait);

    return ngx_http_iot_answer(r, rc);
}


static ngx_int_t
ngx_http_iot_iotda_deleted(ngx_http_request_t *r, ngx_iot_rc_e rc)
{
    if (rc != NGX_IOT_OK) {
        return ngx_http_iot_iotda_write_error(r, rc, NULL);
    }

    return ngx_http_iot_send(r, NGX_HTTP_NO_CONTENT, NULL);
}


/* a write refused or failed, in this dialect's words */

ngx_int_t
ngx_http_iot_iotda_write_error(ngx_http_request_t *r, ngx_iot_rc_e rc,
    ngx_iot_iotda_op_t *op)
{
    ngx_uint_t  why;

    why = op ? op->why : 0;

    switch (why) {

    case NGX_IOT_IOTDA_WHY_DID:
        return ngx_http_iot_error(r, NGX_HTTP_BAD_REQUEST,
                                  "IOTDA.014031 a device with this "
                                  "device_id exists");

    case NGX_IOT_IOTDA_WHY_NODE:
        return ngx_http_iot_error(r, NGX_HTTP_BAD_REQUEST,
                                  "IOTDA.014031 a device with this node_id "
                                  "exists");

    case NGX_IOT_IOTDA_WHY_GATEWAY:
        return ngx_http_iot_error(r, NGX_HTTP_BAD_REQUEST,
                                  "IOTDA.000006 gateway_id: no such device "
                                  "in the resource space");

    case NGX_IOT_IOTDA_WHY_DEPTH:
        return ngx_http_iot_error(r, NGX_HTTP_BAD_REQUEST,
                                  "IOTDA.000006 gateway_id: child devices "
                                  "go two levels deep at most");

    case NGX_IOT_IOTDA_WHY_PRODUCT:
        return ngx_http_iot_error(r, NGX_HTTP_BAD_REQUEST,
                                  "IOTDA.009002 the product (product_id) "
                                  "does not exist");

    case NGX_IOT_IOTDA_WHY_CHILD:
        return ngx_http_iot_error(r, NGX_HTTP_BAD_REQUEST,
                                  "IOTDA.014038 only a directly connected "
                                  "device is frozen or unfrozen");

    case NGX_IOT_IOTDA_WHY_NOT_FROZEN:
        return ngx_http_iot_error(r, NGX_HTTP_BAD_REQUEST,
                                  "IOTDA.014040 the device is not frozen");

    case NGX_IOT_IOTDA_WHY_VERSION:
        return ngx_http_iot_error(r, NGX_HTTP_CONFLICT,
                                  "IOTDA.014041 the shadow's version is not "
                                  "the one given: read it again");

    case NGX_IOT_IOTDA_WHY_INVALID:
        return ngx_http_iot_error(r, NGX_HTTP_BAD_REQUEST, op->message);

    default:
        break;
    }

    if (rc == NGX_IOT_CONFLICT_IMEI) {
        return ngx_http_iot_error(r, NGX_HTTP_BAD_REQUEST,
                                  "IOTDA.014031 a device with this node_id "
                                  "(an IMEI) exists");
    }

    switch (rc) {

    case NGX_IOT_NOT_FOUND:
        return ngx_http_iot_error(r, NGX_HTTP_NOT_FOUND,
                                  "IOTDA.014000 the device does not exist");

    case NGX_IOT_HAS_CHILDREN:
        return ngx_http_iot_error(r, NGX_HTTP_CONFLICT,
                                  "IOTDA.014039 the device has child "
                                  "devices: delete them first");

    case NGX_IOT_COLLECTION_NOT_FOUND:
        return ngx_http_iot_error(r, NGX_HTTP_FORBIDDEN,
                                  "IOTDA.001000 the resource space (app_id) "
                                  "does not exist");

    case NGX_IOT_TOO_MANY_TAGS:
        return ngx_http_iot_error(r, NGX_HTTP_BAD_REQUEST,
                                  "IOTDA.000006 the device's tags (of the "
                                  "collections dialect) would be too "
                                  "large");

    case NGX_IOT_ZONE_FULL:
        return ngx_http_iot_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                  "IOTDA.000003 the registry is full: "
                                  "nothing was changed");

    case NGX_IOT_RETIRED:
        return ngx_http_iot_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                  "IOTDA.000003 nginx is reloading: try "
                                  "again");

    default:
        return ngx_http_iot_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                  "IOTDA.000003 the store cannot be written: "
                                  "nothing was changed");
    }
}


/* a JSON value freed with the request (NULL stays NULL) */

static json_t *
ngx_http_iot_iotda_json_keep(ngx_http_request_t *r, json_t *json)
{
    ngx_pool_cleanup_t  *cln;

    if (json == NULL) {
        return NULL;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        json_decref(json);
        return NULL;
    }

    cln->handler = ngx_http_iot_iotda_json_free;
    cln->data = json;

    return json;
}


static void
ngx_http_iot_iotda_json_free(void *data)
{
    json_decref(data);
}
