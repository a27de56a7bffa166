
/*
 * Copyright (C) nginx-iot authors
 *
 * Outputs in the registry: configs checked for their form (never resolved
 * here: a name that does not resolve is a delivery failure), kept in the
 * store, changed through the registry's writer (ngx_iot_write.h).  The
 * zone holds no output: the delivering worker reads them from the store.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_iot.h"
#include "ngx_iot_zone.h"
#include "ngx_iot_store.h"
#include "ngx_iot_entities.h"
#include "ngx_iot_write.h"
#include "ngx_iot_registry.h"
#include "ngx_iot_history.h"
#include "ngx_iot_outputs.h"


/* what answers show of a secret that is set */
#define NGX_IOT_OUTPUT_MASK  "********"


typedef struct {
    ngx_iot_write_t            w;
    ngx_iot_output_t           row;
    ngx_uint_t                 fresh;
    ngx_iot_wait_t            *wait;
} ngx_iot_output_op_t;


typedef struct {
    const char                *name;
    ngx_uint_t                 kind;
    ngx_uint_t                 required;
} ngx_iot_output_key_t;

#define NGX_IOT_KEY_TEXT      0
#define NGX_IOT_KEY_SECRET    1
#define NGX_IOT_KEY_BOOL      2
#define NGX_IOT_KEY_PORT      3


static ngx_iot_output_key_t  ngx_iot_output_webhook_keys[] = {
    { "url", NGX_IOT_KEY_TEXT, 1 },
    { "basicAuthUser", NGX_IOT_KEY_TEXT, 0 },
    { "basicAuthPass", NGX_IOT_KEY_SECRET, 0 },
    { "customHeaderName", NGX_IOT_KEY_TEXT, 0 },
    { "customHeaderValue", NGX_IOT_KEY_TEXT, 0 },
    { NULL, 0, 0 }
};

static ngx_iot_output_key_t  ngx_iot_output_udp_keys[] = {
    { "host", NGX_IOT_KEY_TEXT, 1 },
    { "port", NGX_IOT_KEY_PORT, 1 },
    { NULL, 0, 0 }
};

static ngx_iot_output_key_t  ngx_iot_output_mqtt_keys[] = {
    { "endpoint", NGX_IOT_KEY_TEXT, 1 },
    { "topicName", NGX_IOT_KEY_TEXT, 1 },
    { "clientId", NGX_IOT_KEY_TEXT, 0 },
    { "username", NGX_IOT_KEY_TEXT, 0 },
    { "password", NGX_IOT_KEY_SECRET, 0 },
    { "disableCertCheck", NGX_IOT_KEY_BOOL, 0 },
    { NULL, 0, 0 }
};

static ngx_iot_output_key_t  ngx_iot_output_ifttt_keys[] = {
    { "key", NGX_IOT_KEY_SECRET, 1 },
    { "eventName", NGX_IOT_KEY_TEXT, 1 },
    { "asIsPayload", NGX_IOT_KEY_BOOL, 0 },
    { NULL, 0, 0 }
};

static ngx_iot_output_key_t  *ngx_iot_output_keys[] = {
    NULL,
    ngx_iot_output_webhook_keys,
    ngx_iot_output_udp_keys,
    ngx_iot_output_mqtt_keys,
    ngx_iot_output_ifttt_keys
};

static const char  *ngx_iot_output_types[] = {
    NULL, "webhook", "udp", "mqtt", "ifttt"
};


static ngx_int_t ngx_iot_output_text_ok(const char *s, size_t len,
    ngx_uint_t header);
static ngx_int_t ngx_iot_output_url_ok(const char *s, size_t len);
static ngx_int_t ngx_iot_output_endpoint_ok(const char *s, size_t len);
static ngx_int_t ngx_iot_output_hostport(const u_char *p, const u_char *end,
    ngx_uint_t need_port);
static ngx_int_t ngx_iot_output_copy(ngx_iot_output_t *o, void *data);
static ngx_iot_rc_e ngx_iot_output_run(ngx_cycle_t *cycle,
    ngx_iot_output_op_t *op, ngx_iot_write_pt check,
    ngx_iot_write_store_pt write, ngx_log_t *log, ngx_iot_wait_t *wait);
static void ngx_iot_output_done(ngx_iot_write_t *w);
static ngx_iot_rc_e ngx_iot_output_check(ngx_iot_write_t *w);
static ngx_int_t ngx_iot_output_put(ngx_iot_write_t *w);
static ngx_int_t ngx_iot_output_remove(ngx_iot_write_t *w);
static ngx_iot_rc_e ngx_iot_output_apply(ngx_iot_write_t *w);


ngx_uint_t
ngx_iot_output_type(ngx_str_t *name)
{
    ngx_uint_t  i;

    for (i = 1; i < sizeof(ngx_iot_output_types) / sizeof(char *); i++) {
        if (name->len == ngx_strlen(ngx_iot_output_types[i])
            && ngx_strncmp(name->data, ngx_iot_output_types[i], name->len)
               == 0)
        {
            return i;
        }
    }

    return 0;
}


const char *
ngx_iot_output_type_name(ngx_uint_t type)
{
    if (type == 0 || type > NGX_IOT_OUTPUT_IFTTT) {
        return "";
    }

    return ngx_iot_output_types[type];
}


/*
 * Printable, no controls; header 1: an HTTP token (a header name);
 * header 2: letters, digits, "-", "_", "." (a part of a URL's path)
 */

static ngx_int_t
ngx_iot_output_text_ok(const char *s, size_t len, ngx_uint_t header)
{
    size_t   i;
    u_char   c;

    for (i = 0; i < len; i++) {
        c = (u_char) s[i];

        if (c < 0x20 || c == 0x7f) {
            return NGX_ERROR;
        }

        if (header
            && !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
                 || (c >= '0' && c <= '9')
                 || ngx_strchr((header == 1 ? "!#$%&'*+-.^_`|~" : "-_."), c)))
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/* host[:port], or [v6]:port; a host of letters, digits, "-", "." */

static ngx_int_t
ngx_iot_output_hostport(const u_char *p, const u_char *end,
    ngx_uint_t need_port)
{
    ngx_int_t      port;
    const u_char  *host, *colon;

    if (p == end) {
        return NGX_ERROR;
    }

    if (*p == '[') {
        host = p + 1;

        while (p < end && *p != ']') {
            if (!(ngx_strchr("0123456789abcdefABCDEF:.", *p) || *p == '[')) {
                return NGX_ERROR;
            }

            p++;
        }

        if (p == end || p == host + 1) {
            return NGX_ERROR;
        }

        colon = ++p;

    } else {
        host = p;

        while (p < end && *p != ':') {
            if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
                  || (*p >= '0' && *p <= '9') || *p == '-' || *p == '.'
                  || *p == '_'))
            {
                return NGX_ERROR;
            }

            p++;
        }

        if (p == host || p - host > 253) {
            return NGX_ERROR;
        }

        colon = p;
    }

    if (colon == end) {
        return need_port ? NGX_ERROR : NGX_OK;
    }

    if (*colon != ':') {
        return NGX_ERROR;
    }

    port = ngx_atoi((u_char *) colon + 1, end - colon - 1);

    if (port < 1 || port > 65535) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_iot_output_url_ok(const char *s, size_t len)
{
    const u_char  *p, *end, *auth;

    p = (const u_char *) s;
    end = p + len;

    if (len > 7 && ngx_strncasecmp((u_char *) p, (u_char *) "http://", 7)
                   == 0)
    {
        p += 7;

    } else if (len > 8
               && ngx_strncasecmp((u_char *) p, (u_char *) "https://", 8)
                  == 0)
    {
        p += 8;

    } else {
        return NGX_ERROR;
    }

    if (ngx_iot_output_text_ok(s, len, 0) != NGX_OK
        || ngx_strlchr((u_char *) p, (u_char *) end, ' '))
    {
        return NGX_ERROR;
    }

    auth = p;

    while (p < end && *p != '/' && *p != '?' && *p != '#') {
        p++;
    }

    /* user information in the URL is not taken: basicAuthUser is */

    if (ngx_strlchr((u_char *) auth, (u_char *) p, '@')) {
        return NGX_ERROR;
    }

    return ngx_iot_output_hostport(auth, p, 0);
}


static ngx_int_t
ngx_iot_output_endpoint_ok(const char *s, size_t len)
{
    const u_char  *p, *end;

    p = (const u_char *) s;
    end = p + len;

    if (len > 6 && (ngx_strncmp(p, "tcp://", 6) == 0
                    || ngx_strncmp(p, "ssl://", 6) == 0))
    {
        p += 6;

        if (end > p && end[-1] == '/') {
            end--;
        }

        return ngx_iot_output_hostport(p, end, 1);
    }

    return NGX_ERROR;
}


ngx_int_t
ngx_iot_output_config(ngx_uint_t type, json_t *config, ngx_str_t *old,
    ngx_pool_t *pool, ngx_str_t *out, const char **err)
{
    char                  *text;
    json_t                *v, *norm, *prev, *pv;
    size_t                 len;
    ngx_int_t              port;
    const char            *s;
    ngx_iot_output_key_t  *k;

    static u_char  errbuf[160];

    if (type == 0 || type > NGX_IOT_OUTPUT_IFTTT) {
        *err = "type must be webhook, udp, mqtt or ifttt";
        return NGX_DECLINED;
    }

    if (config != NULL && !json_is_object(config)) {
        *err = "config must be an object";
        return NGX_DECLINED;
    }

    prev = NULL;

    if (old && old->len) {
        prev = json_loadb((char *) old->data, old->len, 0, NULL);
    }

    norm = json_object();
    if (norm == NULL) {
        json_decref(prev);
        return NGX_ERROR;
    }

    for (k = ngx_iot_output_keys[type]; k->name; k++) {

        v = config ? json_object_get(config, k->name) : NULL;

        if (v && json_is_null(v)) {
            v = NULL;
        }

        switch (k->kind) {

        case NGX_IOT_KEY_BOOL:
            if (v && !json_is_boolean(v)) {
                ngx_snprintf(errbuf, sizeof(errbuf), "%s must be a boolean%Z",
                             k->name);
                goto invalid;
            }

            json_object_set_new(norm, k->name,
                                json_boolean(v && json_is_true(v)));
            continue;

        case NGX_IOT_KEY_PORT:
            port = -1;

            if (v && json_is_integer(v)) {
                port = (ngx_int_t) json_integer_value(v);

            } else if (v && json_is_string(v)) {
                port = ngx_atoi((u_char *) json_string_value(v),
                                json_string_length(v));
            }

            if (port < 1 || port > 65535) {
                ngx_snprintf(errbuf, sizeof(errbuf),
                             "%s must be a number from 1 to 65535%Z",
                             k->name);
                goto invalid;
            }

            json_object_set_new(norm, k->name, json_integer(port));
            continue;

        default:
            break;
        }

        if (v && !json_is_string(v)) {
            ngx_snprintf(errbuf, sizeof(errbuf), "%s must be a string%Z",
                         k->name);
            goto invalid;
        }

        /* a secret left out or shown masked keeps the one stored */

        if (k->kind == NGX_IOT_KEY_SECRET && prev
            && (v == NULL
                || ngx_strcmp(json_string_value(v), NGX_IOT_OUTPUT_MASK)
                   == 0))
        {
            pv = json_object_get(prev, k->name);
            v = (pv && json_is_string(pv)) ? pv : NULL;
        }

        s = v ? json_string_value(v) : "";
        len = v ? json_string_length(v) : 0;

        if (len > 1024 || ngx_strlen(s) != len
            || ngx_iot_output_text_ok(s, len, 0) != NGX_OK)
        {
            ngx_snprintf(errbuf, sizeof(errbuf),
                         "%s must be at most 1024 printable characters%Z",
                         k->name);
            goto invalid;
        }

        if (k->required && len == 0) {
            ngx_snprintf(errbuf, sizeof(errbuf), "%s is required%Z", k->name);
            goto invalid;
        }

        if (ngx_strcmp(k->name, "url") == 0
            && ngx_iot_output_url_ok(s, len) != NGX_OK)
        {
            ngx_snprintf(errbuf, sizeof(errbuf),
                         "url must be an http or https URL with a host "
                         "(and no user information)%Z");
            goto invalid;
        }

        if (ngx_strcmp(k->name, "endpoint") == 0
            && ngx_iot_output_endpoint_ok(s, len) != NGX_OK)
        {
            ngx_snprintf(errbuf, sizeof(errbuf),
                         "endpoint must be tcp://host:port or "
                         "ssl://host:port%Z");
            goto invalid;
        }

        if (ngx_strcmp(k->name, "host") == 0
            && ngx_iot_output_hostport((u_char *) s, (u_char *) s + len, 0)
               != NGX_OK)
        {
            ngx_snprintf(errbuf, sizeof(errbuf),
                         "host must be a host name or an address%Z");
            goto invalid;
        }

        if (ngx_strcmp(k->name, "customHeaderName") == 0
            && ngx_iot_output_text_ok(s, len, 1) != NGX_OK)
        {
            ngx_snprintf(errbuf, sizeof(errbuf),
                         "customHeaderName must be an HTTP header name%Z");
            goto invalid;
        }

        if ((ngx_strcmp(k->name, "eventName") == 0
             || (type == NGX_IOT_OUTPUT_IFTTT
                 && ngx_strcmp(k->name, "key") == 0))
            && ngx_iot_output_text_ok(s, len, 2) != NGX_OK)
        {
            ngx_snprintf(errbuf, sizeof(errbuf),
                         "%s must be letters, digits, \"-\", "
                         "\"_\" or \".\"%Z", k->name);
            goto invalid;
        }

        json_object_set_new(norm, k->name, json_stringn(s, len));
    }

    json_decref(prev);

    text = json_dumps(norm, JSON_COMPACT|JSON_SORT_KEYS);
    json_decref(norm);

    if (text == NULL) {
        return NGX_ERROR;
    }

    out->len = ngx_strlen(text);
    out->data = ngx_pnalloc(pool, out->len);

    if (out->data == NULL || out->len > NGX_IOT_OUTPUT_CONFIG_MAX) {
        free(text);
        return NGX_ERROR;
    }

    ngx_memcpy(out->data, text, out->len);
    free(text);

    return NGX_OK;

invalid:

    json_decref(prev);
    json_decref(norm);
    *err = (const char *) errbuf;

    return NGX_DECLINED;
}


ngx_int_t
ngx_iot_output_config_shown(ngx_str_t *config, ngx_pool_t *pool,
    ngx_str_t *out)
{
    char        *text;
    json_t      *obj, *v;
    const char  *key;

    static const char  *secrets[] = { "basicAuthPass", "password", "key" };

    ngx_uint_t  i;

    obj = json_loadb((char *) config->data, config->len, 0, NULL);
    if (obj == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++) {
        key = secrets[i];
        v = json_object_get(obj, key);

        if (v && json_is_string(v) && json_string_length(v)) {
            json_object_set_new(obj, key, json_string(NGX_IOT_OUTPUT_MASK));
        }
    }

    text = json_dumps(obj, JSON_COMPACT|JSON_SORT_KEYS);
    json_decref(obj);

    if (text == NULL) {
        return NGX_ERROR;
    }

    out->len = ngx_strlen(text);
    out->data = ngx_pnalloc(pool, out->len);

    if (out->data == NULL) {
        free(text);
        return NGX_ERROR;
    }

    ngx_memcpy(out->data, text, out->len);
    free(text);

    return NGX_OK;
}


/* reads: from this worker's connection to the store */

typedef struct {
    ngx_pool_t                *pool;
    ngx_iot_output_t          *out;
    ngx_iot_output_pt          handler;
    void                      *data;
} ngx_iot_output_read_t;


static ngx_int_t
ngx_iot_output_copy(ngx_iot_output_t *o, void *data)
{
    ngx_iot_output_read_t  *rd = data;

    ngx_iot_output_t  copy;

    copy = *o;

    copy.config.data = ngx_pstrdup(rd->pool, &o->config);
    copy.tags.data = ngx_pstrdup(rd->pool, &o->tags);

    if ((o->config.len && copy.config.data == NULL)
        || (o->tags.len && copy.tags.data == NULL))
    {
        return NGX_ERROR;
    }

    if (rd->out) {
        *rd->out = copy;
        return NGX_OK;
    }

    return rd->handler(&copy, rd->data);
}


ngx_iot_rc_e
ngx_iot_output_get(ngx_cycle_t *cycle, uint64_t cid, uint64_t oid,
    ngx_pool_t *pool, ngx_iot_output_t *out)
{
    ngx_int_t               rc;
    ngx_iot_store_t        *store;
    ngx_iot_output_read_t   rd;

    store = ngx_iot_store_get(cycle, cycle->log);
    if (store == NULL) {
        return NGX_IOT_STORE_ERROR;
    }

    rd.pool = pool;
    rd.out = out;

    rc = ngx_iot_store_output_get(store, oid, ngx_iot_output_copy, &rd,
                                  cycle->log);

    if (rc == NGX_ERROR) {
        return NGX_IOT_STORE_ERROR;
    }

    if (rc == NGX_DECLINED || out->collection_id != cid) {
        return NGX_IOT_NOT_FOUND;
    }

    return NGX_IOT_OK;
}


static ngx_int_t
ngx_iot_output_pass(ngx_iot_output_t *o, void *data)
{
    ngx_iot_output_read_t  *rd = data;

    return rd->handler(o, rd->data);
}


ngx_iot_rc_e
ngx_iot_output_list(ngx_cycle_t *cycle, uint64_t cid,
    ngx_iot_output_pt handler, void *data, ngx_log_t *log)
{
    ngx_iot_store_t        *store;
    ngx_iot_output_read_t   rd;

    store = ngx_iot_store_get(cycle, log);
    if (store == NULL) {
        return NGX_IOT_STORE_ERROR;
    }

    rd.pool = NULL;
    rd.out = NULL;
    rd.handler = handler;
    rd.data = data;

    if (ngx_iot_store_output_list(store, cid, ngx_iot_output_pass, &rd, log)
        != NGX_OK)
    {
        return NGX_IOT_STORE_ERROR;
    }

    return NGX_IOT_OK;
}


ngx_int_t
ngx_iot_output_status(ngx_cycle_t *cycle, uint64_t oid,
    ngx_iot_output_state_t *state, ngx_log_t *log)
{
    ngx_iot_store_t  *h;

    h = ngx_iot_history_reader(cycle, log);
    if (h == NULL) {
        return NGX_ERROR;
    }

    return ngx_iot_store_output_state(h, oid, state, log);
}


ngx_int_t
ngx_iot_output_logs(ngx_cycle_t *cycle, uint64_t oid,
    ngx_iot_output_log_pt handler, void *data, ngx_log_t *log)
{
    ngx_iot_store_t  *h;

    h = ngx_iot_history_reader(cycle, log);
    if (h == NULL) {
        return NGX_ERROR;
    }

    return ngx_iot_store_output_logs(h, oid, handler, data, log);
}


/* writes: the registry's write sequence, with nothing in the zone */

static ngx_iot_rc_e
ngx_iot_output_run(ngx_cycle_t *cycle, ngx_iot_output_op_t *op,
    ngx_iot_write_pt check, ngx_iot_write_store_pt write, ngx_log_t *log,
    ngx_iot_wait_t *wait)
{
    ngx_iot_output_op_t  *p;

    p = ngx_palloc(wait->pool, sizeof(ngx_iot_output_op_t));
    if (p == NULL) {
        return NGX_IOT_STORE_ERROR;
    }

    *p = *op;
    p->wait = wait;

    ngx_memzero(&p->w, sizeof(ngx_iot_write_t));
    p->w.check = check;
    p->w.write = write;
    p->w.apply = ngx_iot_output_apply;
    p->w.data = p;
    p->w.pool = wait->pool;
    p->w.log = log;
    p->w.done = ngx_iot_output_done;
    p->w.done_data = p;

    return ngx_iot_write_post(cycle, &p->w);
}


static void
ngx_iot_output_done(ngx_iot_write_t *w)
{
    ngx_iot_output_op_t  *op = w->done_data;

    op->wait->rc = w->rc;
    op->wait->handler(op->wait);
}


static ngx_int_t
ngx_iot_output_found(ngx_iot_output_t *o, void *data)
{
    uint64_t  *cid = data;

    if (o->collection_id != *cid) {
        *cid = 0;
    }

    return NGX_OK;
}


static ngx_iot_rc_e
ngx_iot_output_check(ngx_iot_write_t *w)
{
    ngx_iot_output_op_t  *op = w->data;

    uint64_t             cid;
    ngx_int_t            rc;
    ngx_iot_store_key_t  key;

    key.id = op->row.collection_id;
    key.data = NULL;
    key.len = 0;

    if (ngx_iot_entity_find(w->ctx, NGX_IOT_ENTITY_COLLECTION, &key) == NULL)
    {
        return NGX_IOT_COLLECTION_NOT_FOUND;
    }

    if (op->fresh) {
        return NGX_IOT_OK;
    }

    cid = op->row.collection_id;

    rc = ngx_iot_store_output_get(w->store, op->row.id, ngx_iot_output_found,
                                  &cid, w->log);

    if (rc == NGX_ERROR) {
        return NGX_IOT_STORE_ERROR;
    }

    if (rc == NGX_DECLINED || cid == 0) {
        return NGX_IOT_NOT_FOUND;
    }

    return NGX_IOT_OK;
}


static ngx_int_t
ngx_iot_output_put(ngx_iot_write_t *w)
{
    ngx_iot_output_op_t  *op = w->data;

    return ngx_iot_store_output_put(w->store, &op->row, op->fresh, w->log);
}


static ngx_int_t
ngx_iot_output_remove(ngx_iot_write_t *w)
{
    ngx_iot_output_op_t  *op = w->data;

    return ngx_iot_store_output_delete(w->store, op->row.id, w->log);
}


static ngx_iot_rc_e
ngx_iot_output_apply(ngx_iot_write_t *w)
{
    return NGX_IOT_OK;
}


ngx_iot_rc_e
ngx_iot_output_create(ngx_cycle_t *cycle, ngx_iot_output_t *o,
    ngx_log_t *log, ngx_iot_wait_t *wait)
{
    ngx_iot_output_op_t  op;

    ngx_memzero(&op, sizeof(ngx_iot_output_op_t));

    do {
        o->id = ngx_iot_id_new();
    } while (o->id == 0);

    o->since = ngx_iot_now_ms();
    o->revision = 1;

    op.row = *o;
    op.fresh = 1;

    return ngx_iot_output_run(cycle, &op, ngx_iot_output_check,
                              ngx_iot_output_put, log, wait);
}


ngx_iot_rc_e
ngx_iot_output_update(ngx_cycle_t *cycle, ngx_iot_output_t *o,
    ngx_log_t *log, ngx_iot_wait_t *wait)
{
    ngx_iot_output_op_t  op;

    ngx_memzero(&op, sizeof(ngx_iot_output_op_t));

    op.row = *o;

    return ngx_iot_output_run(cycle, &op, ngx_iot_output_check,
                              ngx_iot_output_put, log, wait);
}


ngx_iot_rc_e
ngx_iot_output_delete(ngx_cycle_t *cycle, uint64_t cid, uint64_t oid,
    ngx_log_t *log, ngx_iot_wait_t *wait)
{
    ngx_iot_output_op_t  op;

    ngx_memzero(&op, sizeof(ngx_iot_output_op_t));

    op.row.id = oid;
    op.row.collection_id = cid;

    return ngx_iot_output_run(cycle, &op, ngx_iot_output_check,
                              ngx_iot_output_remove, log, wait);
}
