
/*
 * Copyright (C) nginx-iot authors
 *
 * The store's registry rows: collections, devices, tokens and sessions,
 * read into and written from the typed rows of ngx_iot_entity.h.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_iot.h"
#include "ngx_iot_id.h"
#include "ngx_iot_store.h"
#include "ngx_iot_store_sqlite.h"


static sqlite3_stmt *ngx_iot_store_keyed(ngx_iot_store_t *store,
    ngx_iot_sql_e sql, ngx_iot_store_key_t *key, u_char *buf);


static ngx_iot_text_t  ngx_iot_empty_tags = { (u_char *) "{}", 2 };


static void
ngx_iot_store_text(sqlite3_stmt *st, int col, ngx_iot_text_t *text)
{
    text->data = (u_char *) sqlite3_column_text(st, col);
    text->len = sqlite3_column_bytes(st, col);

    if (text->data == NULL || (text->len == 2 && text->data[0] == '{')) {
        /* "{}": no tags */
        text->data = NULL;
        text->len = 0;
    }
}


/* a UUID's text; none (or not one) reads as the nil UUID */

static void
ngx_iot_store_uuid(sqlite3_stmt *st, int col, u_char *uuid)
{
    if (ngx_iot_uuid_decode((u_char *) sqlite3_column_text(st, col),
                            sqlite3_column_bytes(st, col), uuid)
        != NGX_OK)
    {
        ngx_memzero(uuid, NGX_IOT_UUID_SIZE);
    }
}


void
ngx_iot_store_row_collection(sqlite3_stmt *st, ngx_iot_collection_t *c)
{
    ngx_memzero(c, sizeof(ngx_iot_collection_t));

    c->id.key = (uint64_t) sqlite3_column_int64(st, 0);
    c->team_id = (uint64_t) sqlite3_column_int64(st, 1);
    c->field_mask = (uint32_t) sqlite3_column_int(st, 2);
    ngx_iot_store_text(st, 3, &c->tags);
    ngx_iot_store_uuid(st, 4, c->uuid);
}


/*
 * A device's description and barcode, one text in the zone: put together
 * in the store's buffer (a row lives until its handler returns).
 */

static void
ngx_iot_store_about(ngx_iot_store_t *store, sqlite3_stmt *st, int col,
    ngx_iot_device_t *d)
{
    u_char  *p;
    size_t   dlen, blen;

    dlen = ngx_min((size_t) sqlite3_column_bytes(st, col),
                   NGX_IOT_STORE_ABOUT_MAX);
    blen = ngx_min((size_t) sqlite3_column_bytes(st, col + 1),
                   NGX_IOT_STORE_ABOUT_MAX);

    p = ngx_cpymem(store->about, sqlite3_column_text(st, col), dlen);
    p = ngx_cpymem(p, sqlite3_column_text(st, col + 1), blen);

    d->description_len = (uint16_t) dlen;
    d->about.data = (dlen + blen) ? store->about : NULL;
    d->about.len = (uint32_t) (dlen + blen);
}


void
ngx_iot_store_row_device(ngx_iot_store_t *store, sqlite3_stmt *st,
    ngx_iot_device_t *d)
{
    u_char     *p;
    size_t      len;
    in_addr_t   addr;

    ngx_memzero(d, sizeof(ngx_iot_device_t));

    d->id.key = (uint64_t) sqlite3_column_int64(st, 0);
    d->collection_id = (uint64_t) sqlite3_column_int64(st, 1);

    (void) ngx_iot_ident_decode((u_char *) sqlite3_column_text(st, 2),
                                sqlite3_column_bytes(st, 2), &d->imsi.key);
    (void) ngx_iot_ident_decode((u_char *) sqlite3_column_text(st, 3),
                                sqlite3_column_bytes(st, 3), &d->imei.key);

    ngx_iot_store_text(st, 4, &d->tags);

    p = (u_char *) sqlite3_column_text(st, 5);
    len = sqlite3_column_bytes(st, 5);

    if (len) {
        addr = ngx_inet_addr(p, len);

        if (addr != INADDR_NONE) {
            d->net_family = 4;
            ngx_memcpy(d->net_addr, &addr, 4);

#if (NGX_HAVE_INET6)
        } else if (ngx_inet6_addr(p, len, d->net_addr) == NGX_OK) {
            d->net_family = 6;
#endif
        }
    }

    d->net_at = (uint64_t) sqlite3_column_int64(st, 6);
    d->net_cell = (uint64_t) sqlite3_column_int64(st, 7);

    (void) ngx_iot_ident_decode((u_char *) sqlite3_column_text(st, 8),
                                sqlite3_column_bytes(st, 8), &d->net_imeisv);
    (void) ngx_iot_ident_decode((u_char *) sqlite3_column_text(st, 9),
                                sqlite3_column_bytes(st, 9), &d->net_msisdn);

    ngx_iot_store_uuid(st, 10, d->uuid);
    ngx_iot_store_about(store, st, 11, d);
    d->status = (u_char) sqlite3_column_int(st, 13);
    ngx_iot_store_uuid(st, 14, d->spec);
    d->created_at = (uint64_t) sqlite3_column_int64(st, 15);
    ngx_iot_store_uuid(st, 16, d->created_by);
    d->modified_at = (uint64_t) sqlite3_column_int64(st, 17);
    ngx_iot_store_uuid(st, 18, d->modified_by);
}


void
ngx_iot_store_row_session(sqlite3_stmt *st, ngx_iot_session_t *s,
    ngx_str_t *gateway)
{
    u_char     *p;
    size_t      len;
    in_addr_t   addr;

    ngx_memzero(s, sizeof(ngx_iot_session_t));

    p = (u_char *) sqlite3_column_text(st, 0);
    len = sqlite3_column_bytes(st, 0);
    addr = ngx_inet_addr(p, len);

    s->addr.key = (addr == INADDR_NONE) ? 0 : ntohl(addr);
    s->device_id = (uint64_t) sqlite3_column_int64(st, 1);

    gateway->data = (u_char *) sqlite3_column_text(st, 2);
    gateway->len = sqlite3_column_bytes(st, 2);

    len = ngx_min((size_t) sqlite3_column_bytes(st, 3),
                  sizeof(s->session_id));
    ngx_memcpy(s->session_id, sqlite3_column_text(st, 3), len);
    s->session_id_len = len;
}


/* the device's address as text, for the store and for JSON */

u_char *
ngx_iot_addr_text(u_char *p, ngx_iot_device_t *d)
{
    if (d->net_family == 4) {
        return p + ngx_inet_ntop(AF_INET, d->net_addr, p,
                                 NGX_INET_ADDRSTRLEN);
    }

#if (NGX_HAVE_INET6)
    if (d->net_family == 6) {
        return p + ngx_inet_ntop(AF_INET6, d->net_addr, p,
                                 NGX_INET6_ADDRSTRLEN);
    }
#endif

    return p;
}


void
ngx_iot_store_row_token(sqlite3_stmt *st, ngx_iot_token_t *t)
{
    size_t  len;

    ngx_memzero(t, sizeof(ngx_iot_token_t));

    len = sqlite3_column_bytes(st, 0);
    if (len == NGX_IOT_HASH_LEN) {
        ngx_memcpy(t->hash, sqlite3_column_blob(st, 0), NGX_IOT_HASH_LEN);
    }

    ngx_iot_index_key(&t->id, t->hash, NGX_IOT_HASH_LEN);

    len = sqlite3_column_bytes(st, 1);
    if (len == NGX_IOT_TOKEN_HINT_LEN) {
        ngx_memcpy(t->hint, sqlite3_column_text(st, 1), len);
    }

    t->resource.data = (u_char *) sqlite3_column_text(st, 2);
    t->resource.len = sqlite3_column_bytes(st, 2);
    t->write = sqlite3_column_int(st, 3) ? 1 : 0;
    ngx_iot_store_text(st, 4, &t->tags);
    t->user_id = (uint64_t) sqlite3_column_int64(st, 5);
    t->team_id = (uint64_t) sqlite3_column_int64(st, 6);
}


void
ngx_iot_store_row_adapter(sqlite3_stmt *st, ngx_iot_adapter_t *a)
{
    u_char  *p;
    size_t   len;

    ngx_memzero(a, sizeof(ngx_iot_adapter_t));

    a->device_id = (uint64_t) sqlite3_column_int64(st, 0);
    a->type = (u_char) sqlite3_column_int(st, 1);
    ngx_iot_adapter_key(a->key, a->device_id, a->type);
    ngx_iot_index_key(&a->id, a->key, NGX_IOT_ADAPTER_KEY_LEN);

    p = (u_char *) sqlite3_column_text(st, 2);
    len = sqlite3_column_bytes(st, 2);

    if (a->type == NGX_IOT_ADAPTER_LORA && len == 16) {
        (void) ngx_iot_hex_decode(a->value, p, len);

    } else if (a->type == NGX_IOT_ADAPTER_GENERIC) {
        (void) ngx_iot_uuid_decode(p, len, a->value);
    }

    a->iccid.data = (u_char *) sqlite3_column_text(st, 3);
    a->iccid.len = sqlite3_column_bytes(st, 3);

    if (a->iccid.len == 0) {
        a->iccid.data = NULL;
    }

    a->created_at = (uint64_t) sqlite3_column_int64(st, 4);
    a->modified_at = (uint64_t) sqlite3_column_int64(st, 5);
    a->secret = sqlite3_column_int(st, 6) ? 1 : 0;
}


void
ngx_iot_store_row_group(sqlite3_stmt *st, ngx_iot_group_t *g)
{
    ngx_memzero(g, sizeof(ngx_iot_group_t));

    g->id.key = (uint64_t) sqlite3_column_int64(st, 0);
    g->collection_id = (uint64_t) sqlite3_column_int64(st, 1);
    ngx_iot_store_uuid(st, 2, g->uuid);

    g->name.data = (u_char *) sqlite3_column_text(st, 3);
    g->name.len = sqlite3_column_bytes(st, 3);
    g->description.data = (u_char *) sqlite3_column_text(st, 4);
    g->description.len = sqlite3_column_bytes(st, 4);

    if (g->description.len == 0) {
        g->description.data = NULL;
    }

    g->created_at = (uint64_t) sqlite3_column_int64(st, 5);
    ngx_iot_store_uuid(st, 6, g->created_by);
    g->modified_at = (uint64_t) sqlite3_column_int64(st, 7);
    ngx_iot_store_uuid(st, 8, g->modified_by);
}


void
ngx_iot_store_row_member(sqlite3_stmt *st, ngx_iot_member_t *m)
{
    ngx_memzero(m, sizeof(ngx_iot_member_t));

    m->group_id = (uint64_t) sqlite3_column_int64(st, 0);
    m->device_id = (uint64_t) sqlite3_column_int64(st, 1);
    ngx_iot_member_key(m->key, m->group_id, m->device_id);
    ngx_iot_index_key(&m->id, m->key, NGX_IOT_MEMBER_KEY_LEN);
    m->created_at = (uint64_t) sqlite3_column_int64(st, 2);
    ngx_iot_store_uuid(st, 3, m->created_by);
}


void
ngx_iot_store_row_product(sqlite3_stmt *st, ngx_iot_product_t *p)
{
    size_t  len;

    ngx_memzero(p, sizeof(ngx_iot_product_t));

    p->id.key = (uint64_t) sqlite3_column_int64(st, 0);
    p->collection_id = (uint64_t) sqlite3_column_int64(st, 1);

    len = sqlite3_column_bytes(st, 2);
    len = ngx_min(len, NGX_IOT_PRODUCT_ID_MAX);
    ngx_memcpy(p->pid, sqlite3_column_text(st, 2), len);
    p->pid_len = (uint32_t) len;

    p->name.data = (u_char *) sqlite3_column_text(st, 3);
    p->name.len = sqlite3_column_bytes(st, 3);
    p->model.data = (u_char *) sqlite3_column_text(st, 4);
    p->model.len = sqlite3_column_bytes(st, 4);
    p->created_at = (uint64_t) sqlite3_column_int64(st, 5);
}


/* binding */

void
ngx_iot_store_bind_tags(sqlite3_stmt *st, int col, ngx_iot_text_t *tags)
{
    if (tags->len == 0) {
        tags = &ngx_iot_empty_tags;
    }

    sqlite3_bind_text(st, col, (char *) tags->data, tags->len,
                      SQLITE_STATIC);
}


void
ngx_iot_store_bind_addr(sqlite3_stmt *st, int col, in_addr_t addr,
    u_char *buf)
{
    size_t     len;
    in_addr_t  net;

    net = htonl(addr);
    len = ngx_inet_ntop(AF_INET, &net, buf, NGX_INET_ADDRSTRLEN);

    sqlite3_bind_text(st, col, (char *) buf, len, SQLITE_STATIC);
}


/*
 * An identifier's digits; an unknown one (0) is empty when optional, and
 * NULL (unique only when known) otherwise.
 */

static void
ngx_iot_store_bind_ident(sqlite3_stmt *st, int col, uint64_t key,
    ngx_uint_t optional, u_char *buf)
{
    u_char  *last;

    if (key == 0 && !optional) {
        sqlite3_bind_null(st, col);
        return;
    }

    last = key ? ngx_iot_ident_encode(buf, key) : buf;

    sqlite3_bind_text(st, col, (char *) buf, last - buf, SQLITE_STATIC);
}


/* a UUID as text; the nil UUID (unknown) as an empty text */

static void
ngx_iot_store_bind_uuid(sqlite3_stmt *st, int col, u_char *uuid, u_char *buf)
{
    u_char  *last;

    last = ngx_iot_uuid_is_nil(uuid) ? buf : ngx_iot_uuid_encode(buf, uuid);

    sqlite3_bind_text(st, col, (char *) buf, last - buf, SQLITE_STATIC);
}


static void
ngx_iot_store_bind_text(sqlite3_stmt *st, int col, ngx_iot_text_t *t)
{
    sqlite3_bind_text(st, col, t->len ? (char *) t->data : "", t->len,
                      SQLITE_STATIC);
}


static void
ngx_iot_store_bind_str(sqlite3_stmt *st, int col, ngx_str_t *s)
{
    sqlite3_bind_text(st, col, s->len ? (char *) s->data : "", s->len,
                      SQLITE_STATIC);
}


/* the statement of one row, bound to its key */

static sqlite3_stmt *
ngx_iot_store_keyed(ngx_iot_store_t *store, ngx_iot_sql_e sql,
    ngx_iot_store_key_t *key, u_char *buf)
{
    uint64_t       id;
    sqlite3_stmt  *st;

    st = ngx_iot_store_stmt(store, sql);
    if (st == NULL) {
        return NULL;
    }

    switch (sql) {

    case NGX_IOT_SQL_TOKEN_GET:
    case NGX_IOT_SQL_TOKEN_DELETE:
        sqlite3_bind_blob(st, 1, key->data, key->len, SQLITE_STATIC);
        break;

    case NGX_IOT_SQL_TOKEN_BY_HINT:
        sqlite3_bind_text(st, 1, (char *) key->data, key->len,
                          SQLITE_STATIC);
        break;

    case NGX_IOT_SQL_SESSION_GET:
    case NGX_IOT_SQL_SESSION_DELETE:
        ngx_iot_store_bind_addr(st, 1, (in_addr_t) key->id, buf);
        break;

    case NGX_IOT_SQL_MEMBER_GET:
    case NGX_IOT_SQL_MEMBER_DELETE:
        /* ngx_iot_member_key(): the group's id, the device's */
        ngx_memcpy(&id, key->data, sizeof(uint64_t));
        sqlite3_bind_int64(st, 1, (sqlite3_int64) id);
        ngx_memcpy(&id, key->data + sizeof(uint64_t), sizeof(uint64_t));
        sqlite3_bind_int64(st, 2, (sqlite3_int64) id);
        break;

    case NGX_IOT_SQL_ADAPTER_GET:
    case NGX_IOT_SQL_ADAPTER_DELETE:
        /* ngx_iot_adapter_key(): the device's id, the type */
        ngx_memcpy(&id, key->data, sizeof(uint64_t));
        sqlite3_bind_int64(st, 1, (sqlite3_int64) id);
        sqlite3_bind_int(st, 2, key->data[sizeof(uint64_t)]);
        break;

    default:
        sqlite3_bind_int64(st, 1, (sqlite3_int64) key->id);
        break;
    }

    return st;
}


ngx_int_t
ngx_iot_store_find(ngx_iot_store_t *store, ngx_iot_store_kind_e kind,
    ngx_iot_store_key_t *key, ngx_iot_store_row_pt handler, void *data,
    ngx_log_t *log)
{
    int                     rc;
    u_char                  buf[NGX_INET_ADDRSTRLEN];
    ngx_int_t               hrc;
    sqlite3_stmt           *st;
    ngx_iot_sql_e           sql;
    ngx_iot_token_t         token;
    ngx_iot_device_t        device;
    ngx_iot_adapter_t       adapter;
    ngx_iot_group_t         group;
    ngx_iot_member_t        member;
    ngx_iot_product_t       product;
    ngx_iot_iotda_row_t     iotda;
    ngx_iot_collection_t    collection;
    ngx_iot_session_row_t   session;

    switch (kind) {

    case NGX_IOT_STORE_PRODUCTS:
        sql = NGX_IOT_SQL_PRODUCT_GET;
        break;

    case NGX_IOT_STORE_IOTDA:
        sql = NGX_IOT_SQL_IOTDA_GET;
        break;

    case NGX_IOT_STORE_COLLECTIONS:
        sql = NGX_IOT_SQL_COLLECTION_GET;
        break;

    case NGX_IOT_STORE_DEVICES:
        sql = NGX_IOT_SQL_DEVICE_GET;
        break;

    case NGX_IOT_STORE_TOKENS:
        sql = (key->len == NGX_IOT_HASH_LEN) ? NGX_IOT_SQL_TOKEN_GET
                                             : NGX_IOT_SQL_TOKEN_BY_HINT;
        break;

    case NGX_IOT_STORE_SESSIONS:
        sql = NGX_IOT_SQL_SESSION_GET;
        break;

    case NGX_IOT_STORE_ADAPTERS:
        if (key->len != NGX_IOT_ADAPTER_KEY_LEN) {
            return NGX_ERROR;
        }

        sql = NGX_IOT_SQL_ADAPTER_GET;
        break;

    case NGX_IOT_STORE_GROUPS:
        sql = NGX_IOT_SQL_GROUP_GET;
        break;

    case NGX_IOT_STORE_MEMBERS:
        if (key->len != NGX_IOT_MEMBER_KEY_LEN) {
            return NGX_ERROR;
        }

        sql = NGX_IOT_SQL_MEMBER_GET;
        break;

    default:
        return NGX_ERROR;
    }

    st = ngx_iot_store_keyed(store, sql, key, buf);
    if (st == NULL) {
        ngx_iot_store_log_error(store, "finding a row", log);
        return NGX_ERROR;
    }

    rc = sqlite3_step(st);

    if (rc != SQLITE_ROW) {
        sqlite3_reset(st);

        if (rc == SQLITE_DONE) {
            return NGX_DECLINED;
        }

        ngx_iot_store_log_error(store, "finding a row", log);
        return NGX_ERROR;
    }

    switch (kind) {

    case NGX_IOT_STORE_COLLECTIONS:
        ngx_iot_store_row_collection(st, &collection);
        hrc = handler(&collection, data);
        break;

    case NGX_IOT_STORE_DEVICES:
        ngx_iot_store_row_device(store, st, &device);
        hrc = handler(&device, data);
        break;

    case NGX_IOT_STORE_TOKENS:
        ngx_iot_store_row_token(st, &token);
        hrc = handler(&token, data);
        break;

    case NGX_IOT_STORE_ADAPTERS:
        ngx_iot_store_row_adapter(st, &adapter);
        hrc = handler(&adapter, data);
        break;

    case NGX_IOT_STORE_GROUPS:
        ngx_iot_store_row_group(st, &group);
        hrc = handler(&group, data);
        break;

    case NGX_IOT_STORE_MEMBERS:
        ngx_iot_store_row_member(st, &member);
        hrc = handler(&member, data);
        break;

    case NGX_IOT_STORE_PRODUCTS:
        ngx_iot_store_row_product(st, &product);
        hrc = handler(&product, data);
        break;

    case NGX_IOT_STORE_IOTDA:
        ngx_iot_store_row_iotda(st, &iotda);
        hrc = handler(&iotda, data);
        break;

    default: /* NGX_IOT_STORE_SESSIONS */
        ngx_iot_store_row_session(st, &session.session, &session.gateway);
        hrc = handler(&session, data);
        break;
    }

    sqlite3_reset(st);

    return (hrc == NGX_ERROR) ? NGX_ERROR : NGX_OK;
}


ngx_int_t
ngx_iot_store_count(ngx_iot_store_t *store, ngx_iot_store_kind_e kind,
    uint64_t scope, ngx_uint_t *n, ngx_log_t *log)
{
    int             rc;
    sqlite3_stmt   *st;
    ngx_iot_sql_e   sql;

    switch (kind) {

    case NGX_IOT_STORE_COLLECTIONS:
        sql = NGX_IOT_SQL_COLLECTION_COUNT;
        break;

    case NGX_IOT_STORE_DEVICES:
        sql = scope ? NGX_IOT_SQL_DEVICE_COUNT_IN : NGX_IOT_SQL_DEVICE_COUNT;
        break;

    case NGX_IOT_STORE_TOKENS:
        sql = NGX_IOT_SQL_TOKEN_COUNT;
        break;

    case NGX_IOT_STORE_SESSIONS:
        sql = NGX_IOT_SQL_SESSION_COUNT;
        break;

    case NGX_IOT_STORE_ADAPTERS:
        sql = NGX_IOT_SQL_ADAPTER_COUNT;
        break;

    case NGX_IOT_STORE_GROUPS:
        sql = scope ? NGX_IOT_SQL_GROUP_COUNT_IN : NGX_IOT_SQL_GROUP_COUNT;
        break;

    case NGX_IOT_STORE_MEMBERS:
        sql = NGX_IOT_SQL_MEMBER_COUNT;
        break;

    case NGX_IOT_STORE_PRODUCTS:
        sql = NGX_IOT_SQL_PRODUCT_COUNT;
        break;

    case NGX_IOT_STORE_IOTDA:
        sql = NGX_IOT_SQL_IOTDA_COUNT;
        break;

    default:
        return NGX_ERROR;
    }

    st = ngx_iot_store_stmt(store, sql);
    if (st == NULL) {
        ngx_iot_store_log_error(store, "counting rows", log);
        return NGX_ERROR;
    }

    if (scope) {
        sqlite3_bind_int64(st, 1, (sqlite3_int64) scope);
    }

    rc = sqlite3_step(st);
    *n = (rc == SQLITE_ROW) ? (ngx_uint_t) sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);

    if (rc != SQLITE_ROW) {
        ngx_iot_store_log_error(store, "counting rows", log);
        return NGX_ERROR;
    }

    return NGX_OK;
}


ngx_int_t
ngx_iot_store_delete(ngx_iot_store_t *store, ngx_iot_store_kind_e kind,
    ngx_iot_store_key_t *key, ngx_log_t *log)
{
    u_char          buf[NGX_INET_ADDRSTRLEN];
    sqlite3_stmt   *st;
    ngx_iot_sql_e   sql;

    switch (kind) {

    case NGX_IOT_STORE_COLLECTIONS:
        sql = NGX_IOT_SQL_COLLECTION_DELETE;
        break;

    case NGX_IOT_STORE_DEVICES:
        sql = NGX_IOT_SQL_DEVICE_DELETE;
        break;

    case NGX_IOT_STORE_TOKENS:
        sql = NGX_IOT_SQL_TOKEN_DELETE;
        break;

    case NGX_IOT_STORE_SESSIONS:
        sql = NGX_IOT_SQL_SESSION_DELETE;
        break;

    case NGX_IOT_STORE_ADAPTERS:
        if (key->len != NGX_IOT_ADAPTER_KEY_LEN) {
            return NGX_ERROR;
        }

        sql = NGX_IOT_SQL_ADAPTER_DELETE;
        break;

    case NGX_IOT_STORE_GROUPS:
        sql = NGX_IOT_SQL_GROUP_DELETE;
        break;

    case NGX_IOT_STORE_MEMBERS:
        if (key->len != NGX_IOT_MEMBER_KEY_LEN) {
            return NGX_ERROR;
        }

        sql = NGX_IOT_SQL_MEMBER_DELETE;
        break;

    case NGX_IOT_STORE_PRODUCTS:
        sql = NGX_IOT_SQL_PRODUCT_DELETE;
        break;

    case NGX_IOT_STORE_IOTDA:
        sql = NGX_IOT_SQL_IOTDA_DELETE;
        break;

    default:
        return NGX_ERROR;
    }

    st = ngx_iot_store_keyed(store, sql, key, buf);
    if (st == NULL) {
        ngx_iot_store_log_error(store, "deleting a row", log);
        return NGX_ERROR;
    }

    if (ngx_iot_store_step(store, st, "deleting a row", log) != NGX_OK) {
        return NGX_ERROR;
    }

    if (kind == NGX_IOT_STORE_GROUPS) {
        /* a group's memberships go with it */

        st = ngx_iot_store_keyed(store, NGX_IOT_SQL_MEMBERS_DELETE_GROUP, key,
                                 buf);
        if (st == NULL) {
            ngx_iot_store_log_error(store, "deleting a group's members", log);
            return NGX_ERROR;
        }

        return ngx_iot_store_step(store, st, "deleting a group's members",
                                  log);
    }

    if (kind != NGX_IOT_STORE_DEVICES) {
        return NGX_OK;
    }

    /* a device's adapters, memberships and iotda part go with it */

    st = ngx_iot_store_keyed(store, NGX_IOT_SQL_IOTDA_DELETE, key, buf);
    if (st == NULL
        || ngx_iot_store_step(store, st, "deleting a device's iotda part",
                              log)
           != NGX_OK)
    {
        ngx_iot_store_log_error(store, "deleting a device's iotda part",
                                log);
        return NGX_ERROR;
    }

    st = ngx_iot_store_keyed(store, NGX_IOT_SQL_ADAPTER_DELETE_DEVICE, key,
                             buf);
    if (st == NULL) {
        ngx_iot_store_log_error(store, "deleting a device's adapters", log);
        return NGX_ERROR;
    }

    if (ngx_iot_store_step(store, st, "deleting a device's adapters", log)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_iot_store_device_leave(store, key->id, log);
}


ngx_int_t
ngx_iot_store_collection_put(ngx_iot_store_t *store, ngx_iot_collection_t *c,
    ngx_uint_t fresh, ngx_log_t *log)
{
    u_char         uuid[NGX_IOT_UUID_LEN];
    sqlite3_stmt  *st;

    st = ngx_iot_store_stmt(store, fresh ? NGX_IOT_SQL_COLLECTION_INSERT
                                         : NGX_IOT_SQL_COLLECTION_UPDATE);
    if (st == NULL) {
        ngx_iot_store_log_error(store, "writing a collection", log);
        return NGX_ERROR;
    }

    sqlite3_bind_int64(st, 1, (sqlite3_int64) c->id.key);
    sqlite3_bind_int64(st, 2, (sqlite3_int64) c->team_id);
    sqlite3_bind_int(st, 3, (int) c->field_mask);
    ngx_iot_store_bind_tags(st, 4, &c->tags);

    if (fresh) {
        ngx_iot_store_bind_uuid(st, 5, c->uuid, uuid);
    }

    return ngx_iot_store_step(store, st, fresh ? "adding a collection"
                                               : "changing a collection",
                              log);
}


ngx_int_t
ngx_iot_store_device_put(ngx_iot_store_t *store, ngx_iot_device_t *d,
    ngx_uint_t fresh, ngx_log_t *log)
{
    u_char         imsi[NGX_IOT_IDENT_MAX_DIGITS];
    u_char         imei[NGX_IOT_IDENT_MAX_DIGITS];
    u_char         uuid[NGX_IOT_UUID_LEN], spec[NGX_IOT_UUID_LEN];
    u_char         created_by[NGX_IOT_UUID_LEN];
    u_char         modified_by[NGX_IOT_UUID_LEN];
    ngx_str_t      description, barcode;
    sqlite3_stmt  *st;

    st = ngx_iot_store_stmt(store, fresh ? NGX_IOT_SQL_DEVICE_INSERT
                                         : NGX_IOT_SQL_DEVICE_UPDATE);
    if (st == NULL) {
        ngx_iot_store_log_error(store, "writing a device", log);
        return NGX_ERROR;
    }

    sqlite3_bind_int64(st, 1, (sqlite3_int64) d->id.key);
    sqlite3_bind_int64(st, 2, (sqlite3_int64) d->collection_id);
    ngx_iot_store_bind_ident(st, 3, d->imsi.key, 0, imsi);
    ngx_iot_store_bind_ident(st, 4, d->imei.key, 0, imei);
    ngx_iot_store_bind_tags(st, 5, &d->tags);

    if (fresh) {
        ngx_iot_store_bind_uuid(st, 6, d->uuid, uuid);
        sqlite3_bind_int64(st, 11, (sqlite3_int64) d->created_at);
        ngx_iot_store_bind_uuid(st, 12, d->created_by, created_by);
    }

    ngx_iot_device_about(d, &description, &barcode);
    ngx_iot_store_bind_str(st, 7, &description);
    ngx_iot_store_bind_str(st, 8, &barcode);
    sqlite3_bind_int(st, 9, (int) d->status);
    ngx_iot_store_bind_uuid(st, 10, d->spec, spec);
    sqlite3_bind_int64(st, 13, (sqlite3_int64) d->modified_at);
    ngx_iot_store_bind_uuid(st, 14, d->modified_by, modified_by);

    return ngx_iot_store_step(store, st, fresh ? "adding a device"
                                               : "changing a device", log);
}


ngx_int_t
ngx_iot_store_token_put(ngx_iot_store_t *store, ngx_iot_token_t *t,
    ngx_uint_t fresh, ngx_log_t *log)
{
    sqlite3_stmt  *st;

    st = ngx_iot_store_stmt(store, fresh ? NGX_IOT_SQL_TOKEN_INSERT
                                         : NGX_IOT_SQL_TOKEN_UPDATE);
    if (st == NULL) {
        ngx_iot_store_log_error(store, "writing a token", log);
        return NGX_ERROR;
    }

    sqlite3_bind_blob(st, 1, t->hash, NGX_IOT_HASH_LEN, SQLITE_STATIC);

    if (fresh) {
        sqlite3_bind_text(st, 2, (char *) t->hint, NGX_IOT_TOKEN_HINT_LEN,
                          SQLITE_STATIC);
        sqlite3_bind_text(st, 3, (char *) t->resource.data, t->resource.len,
                          SQLITE_STATIC);
        sqlite3_bind_int(st, 4, (int) t->write);
        ngx_iot_store_bind_tags(st, 5, &t->tags);
        sqlite3_bind_int64(st, 6, (sqlite3_int64) ngx_time());

    } else {
        sqlite3_bind_text(st, 2, (char *) t->resource.data, t->resource.len,
                          SQLITE_STATIC);
        sqlite3_bind_int(st, 3, (int) t->write);
        ngx_iot_store_bind_tags(st, 4, &t->tags);
    }

    if (ngx_iot_store_step(store, st, fresh ? "adding a token"
                                            : "changing a token", log)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (!fresh || t->user_id == 0) {
        return NGX_OK;
    }

    /* whose it is: ngx_iot_store_teams.c */
    return ngx_iot_store_token_user(store, t->hash, t->user_id, log);
}


ngx_int_t
ngx_iot_store_adapter_put(ngx_iot_store_t *store, ngx_iot_adapter_t *a,
    ngx_str_t *secret, ngx_str_t *join_eui, ngx_log_t *log)
{
    u_char        *last;
    u_char         ident[NGX_IOT_UUID_LEN];
    sqlite3_stmt  *st;

    st = ngx_iot_store_stmt(store, NGX_IOT_SQL_ADAPTER_PUT);
    if (st == NULL) {
        ngx_iot_store_log_error(store, "writing an adapter", log);
        return NGX_ERROR;
    }

    switch (a->type) {

    case NGX_IOT_ADAPTER_LORA:
        last = ngx_hex_dump(ident, a->value, 8);
        break;

    case NGX_IOT_ADAPTER_GENERIC:
        last = ngx_iot_uuid_encode(ident, a->value);
        break;

    default:
        last = ident;
        break;
    }

    sqlite3_bind_int64(st, 1, (sqlite3_int64) a->device_id);
    sqlite3_bind_int(st, 2, a->type);
    sqlite3_bind_text(st, 3, (char *) ident, last - ident, SQLITE_STATIC);
    ngx_iot_store_bind_text(st, 4, &a->iccid);
    ngx_iot_store_bind_str(st, 5, secret);
    ngx_iot_store_bind_str(st, 6, join_eui);
    sqlite3_bind_int64(st, 7, (sqlite3_int64) a->created_at);
    sqlite3_bind_int64(st, 8, (sqlite3_int64) a->modified_at);
    sqlite3_bind_int(st, 9, secret->len != 0);
    sqlite3_bind_int(st, 10, join_eui->len != 0);

    return ngx_iot_store_step(store, st, "writing an adapter", log);
}


ngx_int_t
ngx_iot_store_group_put(ngx_iot_store_t *store, ngx_iot_group_t *g,
    ngx_uint_t fresh, ngx_log_t *log)
{
    u_char         uuid[NGX_IOT_UUID_LEN], by[NGX_IOT_UUID_LEN];
    u_char         mby[NGX_IOT_UUID_LEN];
    sqlite3_stmt  *st;

    st = ngx_iot_store_stmt(store, fresh ? NGX_IOT_SQL_GROUP_INSERT
                                         : NGX_IOT_SQL_GROUP_UPDATE);
    if (st == NULL) {
        ngx_iot_store_log_error(store, "writing a group", log);
        return NGX_ERROR;
    }

    sqlite3_bind_int64(st, 1, (sqlite3_int64) g->id.key);

    if (fresh) {
        sqlite3_bind_int64(st, 2, (sqlite3_int64) g->collection_id);
        ngx_iot_store_bind_uuid(st, 3, g->uuid, uuid);
        sqlite3_bind_int64(st, 6, (sqlite3_int64) g->created_at);
        ngx_iot_store_bind_uuid(st, 7, g->created_by, by);
    }

    ngx_iot_store_bind_text(st, 4, &g->name);
    ngx_iot_store_bind_text(st, 5, &g->description);
    sqlite3_bind_int64(st, 8, (sqlite3_int64) g->modified_at);
    ngx_iot_store_bind_uuid(st, 9, g->modified_by, mby);

    return ngx_iot_store_step(store, st, fresh ? "adding a group"
                                               : "changing a group", log);
}


ngx_int_t
ngx_iot_store_member_put(ngx_iot_store_t *store, ngx_iot_member_t *m,
    ngx_log_t *log)
{
    u_char         by[NGX_IOT_UUID_LEN];
    sqlite3_stmt  *st;

    st = ngx_iot_store_stmt(store, NGX_IOT_SQL_MEMBER_INSERT);
    if (st == NULL) {
        ngx_iot_store_log_error(store, "adding a member", log);
        return NGX_ERROR;
    }

    sqlite3_bind_int64(st, 1, (sqlite3_int64) m->group_id);
    sqlite3_bind_int64(st, 2, (sqlite3_int64) m->device_id);
    sqlite3_bind_int64(st, 3, (sqlite3_int64) m->created_at);
    ngx_iot_store_bind_uuid(st, 4, m->created_by, by);

    return ngx_iot_store_step(store, st, "adding a member", log);
}


ngx_int_t
ngx_iot_store_device_leave(ngx_iot_store_t *store, uint64_t device_id,
    ngx_log_t *log)
{
    sqlite3_stmt  *st;

    st = ngx_iot_store_stmt(store, NGX_IOT_SQL_MEMBERS_DELETE_DEVICE);
    if (st == NULL) {
        ngx_iot_store_log_error(store, "a device leaving its groups", log);
        return NGX_ERROR;
    }

    sqlite3_bind_int64(st, 1, (sqlite3_int64) device_id);

    return ngx_iot_store_step(store, st, "a device leaving its groups", log);
}


ngx_int_t
ngx_iot_store_adapter_secret(ngx_iot_store_t *store, uint64_t device_id,
    ngx_uint_t type, u_char *buf, size_t size, size_t *len, ngx_log_t *log)
{
    int            rc;
    size_t         n;
    sqlite3_stmt  *st;

    st = ngx_iot_store_stmt(store, NGX_IOT_SQL_ADAPTER_SECRET);
    if (st == NULL) {
        ngx_iot_store_log_error(store, "reading an adapter", log);
        return NGX_ERROR;
    }

    sqlite3_bind_int64(st, 1, (sqlite3_int64) device_id);
    sqlite3_bind_int(st, 2, (int) type);

    rc = sqlite3_step(st);

    if (rc != SQLITE_ROW) {
        sqlite3_reset(st);

        if (rc == SQLITE_DONE) {
            return NGX_DECLINED;
        }

        ngx_iot_store_log_error(store, "reading an adapter", log);
        return NGX_ERROR;
    }

    n = sqlite3_column_bytes(st, 0);

    if (n == 0 || n > size) {
        sqlite3_reset(st);
        return NGX_DECLINED;
    }

    ngx_memcpy(buf, sqlite3_column_text(st, 0), n);
    *len = n;

    sqlite3_reset(st);

    return NGX_OK;
}


ngx_int_t
ngx_iot_store_device_net(ngx_iot_store_t *store, ngx_iot_device_t *d,
    ngx_log_t *log)
{
    u_char         addr[NGX_INET6_ADDRSTRLEN];
    u_char         imeisv[NGX_IOT_IDENT_MAX_DIGITS];
    u_char         msisdn[NGX_IOT_IDENT_MAX_DIGITS];
    u_char        *last;
    sqlite3_stmt  *st;

    st = ngx_iot_store_stmt(store, NGX_IOT_SQL_DEVICE_NET);
    if (st == NULL) {
        ngx_iot_store_log_error(store, "changing a device's network", log);
        return NGX_ERROR;
    }

    last = ngx_iot_addr_text(addr, d);

    sqlite3_bind_int64(st, 1, (sqlite3_int64) d->id.key);
    sqlite3_bind_text(st, 2, (char *) addr, last - addr, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, (sqlite3_int64) d->net_at);
    ngx_iot_store_bind_ident(st, 4, d->net_imeisv, 1, imeisv);
    ngx_iot_store_bind_ident(st, 5, d->net_msisdn, 1, msisdn);

    return ngx_iot_store_step(store, st, "changing a device's network", log);
}


ngx_int_t
ngx_iot_store_session_put(ngx_iot_store_t *store, ngx_iot_session_row_t *s,
    ngx_log_t *log)
{
    u_char         text[NGX_INET_ADDRSTRLEN];
    sqlite3_stmt  *st;

    st = ngx_iot_store_stmt(store, NGX_IOT_SQL_SESSION_PUT);
    if (st == NULL) {
        ngx_iot_store_log_error(store, "keeping a session", log);
        return NGX_ERROR;
    }

    ngx_iot_store_bind_addr(st, 1, (in_addr_t) s->session.addr.key, text);
    sqlite3_bind_int64(st, 2, (sqlite3_int64) s->session.device_id);
    sqlite3_bind_text(st, 3, (char *) s->gateway.data, s->gateway.len,
                      SQLITE_STATIC);
    sqlite3_bind_text(st, 4, (char *) s->session.session_id,
                      s->session.session_id_len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, (sqlite3_int64) ngx_time());

    return ngx_iot_store_step(store, st, "keeping a session", log);
}


ngx_int_t
ngx_iot_store_session_purge(ngx_iot_store_t *store, ngx_str_t *gateway,
    ngx_log_t *log)
{
    sqlite3_stmt  *st;

    st = ngx_iot_store_stmt(store, NGX_IOT_SQL_SESSION_PURGE);
    if (st == NULL) {
        ngx_iot_store_log_error(store, "ending a gateway's sessions", log);
        return NGX_ERROR;
    }

    sqlite3_bind_text(st, 1, (char *) gateway->data, gateway->len,
                      SQLITE_STATIC);

    return ngx_iot_store_step(store, st, "ending a gateway's sessions", log);
}


ngx_int_t
ngx_iot_store_address_holders(ngx_iot_store_t *store, in_addr_t addr,
    uint64_t except, uint64_t *ids, ngx_uint_t max, ngx_log_t *log)
{
    int            rc;
    u_char         text[NGX_INET_ADDRSTRLEN];
    ngx_uint_t     n;
    sqlite3_stmt  *st;

    st = ngx_iot_store_stmt(store, NGX_IOT_SQL_ADDRESS_TAKEN);
    if (st == NULL) {
        ngx_iot_store_log_error(store, "finding an address", log);
        return NGX_ERROR;
    }

    ngx_iot_store_bind_addr(st, 1, addr, text);
    sqlite3_bind_int64(st, 2, (sqlite3_int64) except);
    sqlite3_bind_int64(st, 3, (sqlite3_int64) max);

    n = 0;

    while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < max) {
        ids[n++] = (uint64_t) sqlite3_column_int64(st, 0);
    }

    sqlite3_reset(st);

    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        ngx_iot_store_log_error(store, "finding an address", log);
        return NGX_ERROR;
    }

    return n;
}


ngx_int_t
ngx_iot_store_product_put(ngx_iot_store_t *store, ngx_iot_product_t *p,
    ngx_log_t *log)
{
    sqlite3_stmt  *st;

    st = ngx_iot_store_stmt(store, NGX_IOT_SQL_PRODUCT_INSERT);
    if (st == NULL) {
        ngx_iot_store_log_error(store, "adding a product", log);
        return NGX_ERROR;
    }

    sqlite3_bind_int64(st, 1, (sqlite3_int64) p->id.key);
    sqlite3_bind_int64(st, 2, (sqlite3_int64) p->collection_id);
    sqlite3_bind_text(st, 3, (char *) p->pid, p->pid_len, SQLITE_STATIC);
    ngx_iot_store_bind_text(st, 4, &p->name);
    ngx_iot_store_bind_text(st, 5, &p->model);
    sqlite3_bind_int64(st, 6, (sqlite3_int64) p->created_at);

    return ngx_iot_store_step(store, st, "adding a product", log);
}
