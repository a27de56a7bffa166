
/*
 * Copyright (C) nginx-iot authors
 *
 * The registry's entities as data: the descriptions, and the code that
 * loads, finds, drops and repairs any of them from its description.  The
 * caller holds the zone's lock.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_iot.h"
#include "ngx_iot_index.h"
#include "ngx_iot_zone.h"
#include "ngx_iot_store.h"
#include "ngx_iot_ident.h"
#include "ngx_iot_entities.h"
#include "ngx_iot_session.h"
#include "ngx_iot_fixed.h"
#include "ngx_iot_intern.h"


typedef struct {
    ngx_iot_zone_ctx_t        *ctx;
    ngx_iot_entity_e           what;
} ngx_iot_entity_ctx_t;


static void ngx_iot_collection_link(ngx_iot_zone_ctx_t *ctx, void *e);
static void ngx_iot_collection_unlink(ngx_iot_zone_ctx_t *ctx, void *e);
static void ngx_iot_collection_repaired(ngx_iot_zone_ctx_t *ctx,
    ngx_iot_store_t *store, void *e, ngx_log_t *log);
static void ngx_iot_device_link(ngx_iot_zone_ctx_t *ctx, void *e);
static void ngx_iot_device_unlink(ngx_iot_zone_ctx_t *ctx, void *e);
static void ngx_iot_device_repaired(ngx_iot_zone_ctx_t *ctx,
    ngx_iot_store_t *store, void *e, ngx_log_t *log);
static void ngx_iot_group_link(ngx_iot_zone_ctx_t *ctx, void *e);
static void ngx_iot_group_unlink(ngx_iot_zone_ctx_t *ctx, void *e);
static void ngx_iot_group_repaired(ngx_iot_zone_ctx_t *ctx,
    ngx_iot_store_t *store, void *e, ngx_log_t *log);
static void ngx_iot_member_link(ngx_iot_zone_ctx_t *ctx, void *e);
static void ngx_iot_member_unlink(ngx_iot_zone_ctx_t *ctx, void *e);
static void ngx_iot_members_reload(ngx_iot_zone_ctx_t *ctx,
    ngx_iot_store_t *store, ngx_iot_store_kind_e kind, uint64_t scope,
    ngx_log_t *log);
static ngx_int_t ngx_iot_member_loaded(void *row, void *data);
static void ngx_iot_product_link(ngx_iot_zone_ctx_t *ctx, void *e);
static void ngx_iot_product_unlink(ngx_iot_zone_ctx_t *ctx, void *e);
static void ngx_iot_product_repaired(ngx_iot_zone_ctx_t *ctx,
    ngx_iot_store_t *store, void *e, ngx_log_t *log);
static void ngx_iot_iotda_link(ngx_iot_zone_ctx_t *ctx, void *e);
static void ngx_iot_iotda_unlink(ngx_iot_zone_ctx_t *ctx, void *e);
static void *ngx_iot_iotda_row(void *row);
static void ngx_iot_adapter_link(ngx_iot_zone_ctx_t *ctx, void *e);
static void ngx_iot_adapter_unlink(ngx_iot_zone_ctx_t *ctx, void *e);
static ngx_int_t ngx_iot_device_intern(ngx_iot_zone_ctx_t *ctx,
    ngx_iot_device_t *d, ngx_iot_device_t *row);
static void *ngx_iot_session_row(void *row);
static void *ngx_iot_entity_alloc(ngx_iot_zone_ctx_t *ctx,
    ngx_iot_entity_e what);
static void ngx_iot_entity_free(ngx_iot_zone_ctx_t *ctx,
    ngx_iot_entity_e what, void *e);
static ngx_int_t ngx_iot_entity_loaded(void *row, void *data);
static ngx_int_t ngx_iot_entity_text_alloc(ngx_slab_pool_t *shpool,
    ngx_str_t *src, ngx_iot_text_t *dst, ngx_uint_t always);


#define ngx_iot_entity_index(sh, ent)                                         \
    ((ngx_iot_index_t *) ((u_char *) (sh) + (ent)->index))
#define ngx_iot_entity_text(e, off)                                           \
    ((ngx_iot_text_t *) ((u_char *) (e) + (off)))


ngx_iot_entity_t  ngx_iot_entities[NGX_IOT_ENTITY_LAST] = {

    { ngx_string("collection"), NGX_IOT_STORE_COLLECTIONS,
      sizeof(ngx_iot_collection_t), offsetof(ngx_iot_sh_t, collections),
      0, 0, 0,
      { { offsetof(ngx_iot_collection_t, tags), 0 }, { 0, 0 } },
      NULL, ngx_iot_collection_link, ngx_iot_collection_unlink,
      ngx_iot_collection_repaired },

    { ngx_string("device"), NGX_IOT_STORE_DEVICES,
      NGX_IOT_DEVICE_ZONE_SIZE, offsetof(ngx_iot_sh_t, devices),
      0, 0, 0,
      { { offsetof(ngx_iot_device_t, tags), 0 },
        { offsetof(ngx_iot_device_t, about), NGX_IOT_TEXT_PLAIN } },
      NULL, ngx_iot_device_link, ngx_iot_device_unlink,
      ngx_iot_device_repaired },

    { ngx_string("token"), NGX_IOT_STORE_TOKENS,
      sizeof(ngx_iot_token_t), offsetof(ngx_iot_sh_t, tokens),
      1, offsetof(ngx_iot_token_t, hash), NGX_IOT_HASH_LEN,
      { { offsetof(ngx_iot_token_t, tags), 0 },
        { offsetof(ngx_iot_token_t, resource), 1 } },
      NULL, NULL, NULL, NULL },

    { ngx_string("session"), NGX_IOT_STORE_SESSIONS,
      sizeof(ngx_iot_session_t), offsetof(ngx_iot_sh_t, sessions),
      0, 0, 0,
      { { 0, 0 }, { 0, 0 } },
      ngx_iot_session_row, NULL, NULL, NULL },

    { ngx_string("adapter"), NGX_IOT_STORE_ADAPTERS,
      sizeof(ngx_iot_adapter_t), offsetof(ngx_iot_sh_t, adapters),
      1, offsetof(ngx_iot_adapter_t, key), NGX_IOT_ADAPTER_KEY_LEN,
      { { offsetof(ngx_iot_adapter_t, iccid), NGX_IOT_TEXT_PLAIN },
        { 0, 0 } },
      NULL, ngx_iot_adapter_link, ngx_iot_adapter_unlink, NULL },

    { ngx_string("group"), NGX_IOT_STORE_GROUPS,
      sizeof(ngx_iot_group_t), offsetof(ngx_iot_sh_t, groups),
      0, 0, 0,
      { { offsetof(ngx_iot_group_t, name), NGX_IOT_TEXT_PLAIN },
        { offsetof(ngx_iot_group_t, description), NGX_IOT_TEXT_PLAIN } },
      NULL, ngx_iot_group_link, ngx_iot_group_unlink,
      ngx_iot_group_repaired },

    { ngx_string("member"), NGX_IOT_STORE_MEMBERS,
      sizeof(ngx_iot_member_t), offsetof(ngx_iot_sh_t, members),
      1, offsetof(ngx_iot_member_t, key), NGX_IOT_MEMBER_KEY_LEN,
      { { 0, 0 }, { 0, 0 } },
      NULL, ngx_iot_member_link, ngx_iot_member_unlink, NULL },

    { ngx_string("product"), NGX_IOT_STORE_PRODUCTS,
      sizeof(ngx_iot_product_t), offsetof(ngx_iot_sh_t, products),
      0, 0, 0,
      { { offsetof(ngx_iot_product_t, name), NGX_IOT_TEXT_PLAIN },
        { offsetof(ngx_iot_product_t, model), NGX_IOT_TEXT_PLAIN } },
      NULL, ngx_iot_product_link, ngx_iot_product_unlink,
      ngx_iot_product_repaired },

    { ngx_string("iotda device"), NGX_IOT_STORE_IOTDA,
      sizeof(ngx_iot_iotda_t), offsetof(ngx_iot_sh_t, iotda),
      0, 0, 0,
      { { offsetof(ngx_iot_iotda_t, ids), NGX_IOT_TEXT_PLAIN },
        { offsetof(ngx_iot_iotda_t, doc), NGX_IOT_TEXT_PLAIN } },
      ngx_iot_iotda_row, ngx_iot_iotda_link, ngx_iot_iotda_unlink, NULL }
};


/*
 * The iotda dialect's part of a device: by its IoTDA device id, its node
 * id (when it is not the IMEI), its gateway; its product counts it.
 */

static void
ngx_iot_iotda_link(ngx_iot_zone_ctx_t *ctx, void *e)
{
    ngx_iot_iotda_t  *x = e;

    ngx_iot_product_t    *p;
    ngx_iot_store_key_t   key;

    x->did_link.key = ngx_iot_index_hash(x->ids.data, x->did_len);
    ngx_iot_index_insert(ctx->shpool, &ctx->sh->iotda_dids, &x->did_link);

    if (x->ids.len > x->did_len) {
        x->node_link.key = ngx_iot_index_hash(x->ids.data + x->did_len,
                                              x->ids.len - x->did_len);
        ngx_iot_index_insert(ctx->shpool, &ctx->sh->iotda_nodes,
                             &x->node_link);
    }

    if (x->gateway) {
        x->gw_link.key = x->gateway;
        ngx_iot_index_insert(ctx->shpool, &ctx->sh->iotda_children,
                             &x->gw_link);
    }

    key.id = x->product;
    key.data = NULL;
    key.len = 0;

    p = x->product ? ngx_iot_entity_find(ctx, NGX_IOT_ENTITY_PRODUCT, &key)
                   : NULL;
    if (p) {
        p->ndevices++;
    }
}


static void
ngx_iot_iotda_unlink(ngx_iot_zone_ctx_t *ctx, void *e)
{
    ngx_iot_iotda_t  *x = e;

    ngx_iot_product_t    *p;
    ngx_iot_store_key_t   key;

    ngx_iot_index_remove(&ctx->sh->iotda_dids, &x->did_link);

    if (x->ids.len > x->did_len) {
        ngx_iot_index_remove(&ctx->sh->iotda_nodes, &x->node_link);
    }

    if (x->gateway) {
        ngx_iot_index_remove(&ctx->sh->iotda_children, &x->gw_link);
    }

    key.id = x->product;
    key.data = NULL;
    key.len = 0;

    p = x->product ? ngx_iot_entity_find(ctx, NGX_IOT_ENTITY_PRODUCT, &key)
                   : NULL;
    if (p && p->ndevices) {
        p->ndevices--;
    }
}


static void *
ngx_iot_iotda_row(void *row)
{
    return &((ngx_iot_iotda_row_t *) row)->e;
}


/* products: how many devices (their iotda parts) use one is derived */

static void
ngx_iot_product_repaired(ngx_iot_zone_ctx_t *ctx, ngx_iot_store_t *store,
    void *e, ngx_log_t *log)
{
    ngx_iot_product_t  *p = e;

    ngx_uint_t        i;
    ngx_iot_link_t   *link;
    ngx_iot_index_t  *idx;

    p->ndevices = 0;
    idx = &ctx->sh->iotda;

    for (i = 0; idx->buckets && i <= idx->mask; i++) {
        for (link = idx->buckets[i]; link; link = link->next) {
            if (((ngx_iot_iotda_t *) link)->product == p->id.key) {
                p->ndevices++;
            }
        }
    }
}


/* products: by their product id too */

static void
ngx_iot_product_link(ngx_iot_zone_ctx_t *ctx, void *e)
{
    ngx_iot_product_t  *p = e;

    p->pid_link.key = ngx_iot_index_hash(p->pid, p->pid_len);
    ngx_iot_index_insert(ctx->shpool, &ctx->sh->product_ids, &p->pid_link);
}


static void
ngx_iot_product_unlink(ngx_iot_zone_ctx_t *ctx, void *e)
{
    ngx_iot_product_t  *p = e;

    ngx_iot_index_remove(&ctx->sh->product_ids, &p->pid_link);
}


/* collections: their UUIDs */

static void
ngx_iot_collection_link(ngx_iot_zone_ctx_t *ctx, void *e)
{
    ngx_iot_collection_t  *c = e;

    c->uuid_link.key = ngx_iot_uuid_key(c->uuid);
    ngx_iot_index_insert(ctx->shpool, &ctx->sh->collection_uuids,
                         &c->uuid_link);
}


static void
ngx_iot_collection_unlink(ngx_iot_zone_ctx_t *ctx, void *e)
{
    ngx_iot_collection_t  *c = e;

    ngx_iot_index_remove(&ctx->sh->collection_uuids, &c->uuid_link);
}


/* collections: how many devices and groups each has is derived */

static void
ngx_iot_collection_repaired(ngx_iot_zone_ctx_t *ctx, ngx_iot_store_t *store,
    void *e, ngx_log_t *log)
{
    ngx_uint_t             n;
    ngx_iot_collection_t  *c = e;

    if (ngx_iot_store_count(store, NGX_IOT_STORE_DEVICES, c->id.key, &n, log)
        == NGX_OK)
    {
        c->ndevices = (uint32_t) n;
    }

    if (ngx_iot_store_count(store, NGX_IOT_STORE_GROUPS, c->id.key, &n, log)
        == NGX_OK)
    {
        c->ngroups = (uint32_t) n;
    }
}


/* devices: their UUIDs, identifiers, and their collection's count */

static void
ngx_iot_device_link(ngx_iot_zone_ctx_t *ctx, void *e)
{
    ngx_iot_device_t      *d = e;
    ngx_iot_collection_t  *c;
    ngx_iot_store_key_t    key;

    d->uuid_link.key = ngx_iot_uuid_key(d->uuid);
    ngx_iot_index_insert(ctx->shpool, &ctx->sh->device_uuids,
                         &d->uuid_link);

    ngx_iot_ident_link(ctx, d);

    ngx_iot_intern_hold(ctx->shpool, d->spec_ref);
    ngx_iot_intern_hold(ctx->shpool, d->created_ref);
    ngx_iot_intern_hold(ctx->shpool, d->modified_ref);

    key.id = d->collection_id;
    key.data = NULL;
    key.len = 0;

    c = ngx_iot_entity_find(ctx, NGX_IOT_ENTITY_COLLECTION, &key);
    if (c) {
        c->ndevices++;
    }
}


static void
ngx_iot_device_unlink(ngx_iot_zone_ctx_t *ctx, void *e)
{
    ngx_iot_device_t      *d = e;

    u_char                 k[NGX_IOT_ADAPTER_KEY_LEN];
    ngx_uint_t             i;
    ngx_iot_iotda_t       *x;
    ngx_iot_adapter_t     *a;
    ngx_iot_collection_t  *c;
    ngx_iot_store_key_t    key;

    ngx_iot_index_remove(&ctx->sh->device_uuids, &d->uuid_link);
    ngx_iot_ident_unlink(ctx, d);

    ngx_iot_intern_release(ctx->shpool, &ctx->sh->interned, d->spec_ref);
    ngx_iot_intern_release(ctx->shpool, &ctx->sh->interned, d->created_ref);
    ngx_iot_intern_release(ctx->shpool, &ctx->sh->interned,
                           d->modified_ref);

    /* its memberships and adapters go with it */

    ngx_iot_members_drop(ctx, d->id.key, 0);

    key.id = d->id.key;
    key.data = NULL;
    key.len = 0;

    x = ngx_iot_entity_find(ctx, NGX_IOT_ENTITY_IOTDA, &key);
    if (x) {
        ngx_iot_entity_drop(ctx, NGX_IOT_ENTITY_IOTDA, x);
    }

    for (i = 1; i <= NGX_IOT_ADAPTER_TYPES; i++) {
        ngx_iot_adapter_key(k, d->id.key, i);

        key.id = 0;
        key.data = k;
        key.len = NGX_IOT_ADAPTER_KEY_LEN;

        a = ngx_iot_entity_find(ctx, NGX_IOT_ENTITY_ADAPTER, &key);
        if (a) {
            ngx_iot_entity_drop(ctx, NGX_IOT_ENTITY_ADAPTER, a);
        }
    }

    key.id = d->collection_id;
    key.data = NULL;
    key.len = 0;

    c = ngx_iot_entity_find(ctx, NGX_IOT_ENTITY_COLLECTION, &key);
    if (c && c->ndevices) {
        c->ndevices--;
    }
}


/* the shared UUIDs of a store row, as handles (held once linked) */

static ngx_int_t
ngx_iot_device_intern(ngx_iot_zone_ctx_t *ctx, ngx_iot_device_t *d,
    ngx_iot_device_t *row)
{
    ngx_iot_index_t  *idx;

    idx = &ctx->sh->interned;

    if (ngx_iot_intern(ctx->shpool, idx, row->spec, &d->spec_ref) != NGX_OK
        || ngx_iot_intern(ctx->shpool, idx, row->created_by, &d->created_ref)
           != NGX_OK
        || ngx_iot_intern(ctx->shpool, idx, row->modified_by,
                          &d->modified_ref)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* a device taken from the store again: its adapters and memberships too */

static void
ngx_iot_device_repaired(ngx_iot_zone_ctx_t *ctx, ngx_iot_store_t *store,
    void *e, ngx_log_t *log)
{
    ngx_iot_device_t  *d = e;

    u_char               k[NGX_IOT_ADAPTER_KEY_LEN];
    ngx_uint_t           i;
    ngx_iot_store_key_t  key;

    ngx_iot_members_reload(ctx, store, NGX_IOT_STORE_DEVICE_MEMBERS,
                           d->id.key, log);

    key.id = d->id.key;
    key.data = NULL;
    key.len = 0;

    ngx_iot_entity_repair(ctx, store, NGX_IOT_ENTITY_IOTDA, &key, log);

    for (i = 1; i <= NGX_IOT_ADAPTER_TYPES; i++) {
        ngx_iot_adapter_key(k, d->id.key, i);

        key.id = 0;
        key.data = k;
        key.len = NGX_IOT_ADAPTER_KEY_LEN;

        ngx_iot_entity_repair(ctx, store, NGX_IOT_ENTITY_ADAPTER, &key, log);
    }
}


/* groups: their UUIDs and their memberships */

static void
ngx_iot_group_link(ngx_iot_zone_ctx_t *ctx, void *e)
{
    ngx_iot_group_t  *g = e;

    ngx_iot_collection_t  *c;
    ngx_iot_store_key_t    key;

    g->uuid_link.key = ngx_iot_uuid_key(g->uuid);
    ngx_iot_index_insert(ctx->shpool, &ctx->sh->group_uuids, &g->uuid_link);

    key.id = g->collection_id;
    key.data = NULL;
    key.len = 0;

    c = ngx_iot_entity_find(ctx, NGX_IOT_ENTITY_COLLECTION, &key);
    if (c) {
        c->ngroups++;
    }
}


static void
ngx_iot_group_unlink(ngx_iot_zone_ctx_t *ctx, void *e)
{
    ngx_iot_group_t  *g = e;

    ngx_iot_collection_t  *c;
    ngx_iot_store_key_t    key;

    ngx_iot_members_drop(ctx, g->id.key, 1);
    ngx_iot_index_remove(&ctx->sh->group_uuids, &g->uuid_link);

    key.id = g->collection_id;
    key.data = NULL;
    key.len = 0;

    c = ngx_iot_entity_find(ctx, NGX_IOT_ENTITY_COLLECTION, &key);
    if (c && c->ngroups) {
        c->ngroups--;
    }
}


static void
ngx_iot_group_repaired(ngx_iot_zone_ctx_t *ctx, ngx_iot_store_t *store,
    void *e, ngx_log_t *log)
{
    ngx_iot_group_t  *g = e;

    ngx_iot_members_reload(ctx, store, NGX_IOT_STORE_GROUP_MEMBERS,
                           g->id.key, log);
}


/* memberships: indexed by group and by device; a group counts its own */

static void
ngx_iot_member_link(ngx_iot_zone_ctx_t *ctx, void *e)
{
    ngx_iot_member_t     *m = e;
    ngx_iot_group_t      *g;
    ngx_iot_store_key_t   key;

    m->by_group.key = m->group_id;
    m->by_device.key = m->device_id;

    ngx_iot_index_insert(ctx->shpool, &ctx->sh->members_by_group,
                         &m->by_group);
    ngx_iot_index_insert(ctx->shpool, &ctx->sh->members_by_device,
                         &m->by_device);

    key.id = m->group_id;
    key.data = NULL;
    key.len = 0;

    g = ngx_iot_entity_find(ctx, NGX_IOT_ENTITY_GROUP, &key);
    if (g) {
        g->nmembers++;
    }
}


static void
ngx_iot_member_unlink(ngx_iot_zone_ctx_t *ctx, void *e)
{
    ngx_iot_member_t     *m = e;
    ngx_iot_group_t      *g;
    ngx_iot_store_key_t   key;

    ngx_iot_index_remove(&ctx->sh->members_by_group, &m->by_group);
    ngx_iot_index_remove(&ctx->sh->members_by_device, &m->by_device);

    key.id = m->group_id;
    key.data = NULL;
    key.len = 0;

    g = ngx_iot_entity_find(ctx, NGX_IOT_ENTITY_GROUP, &key);
    if (g && g->nmembers) {
        g->nmembers--;
    }
}


/* the memberships of a device (of_group 0) or of a group leave the zone */

void
ngx_iot_members_drop(ngx_iot_zone_ctx_t *ctx, uint64_t id,
    ngx_uint_t of_group)
{
    ngx_iot_link_t    *link, *next;
    ngx_iot_member_t  *m;

    link = ngx_iot_index_find(of_group ? &ctx->sh->members_by_group
                                       : &ctx->sh->members_by_device, id);

    while (link) {
        next = ngx_iot_index_find_next(link);

        m = of_group ? ngx_iot_container_of(link, ngx_iot_member_t, by_group)
                     : ngx_iot_container_of(link, ngx_iot_member_t,
                                            by_device);

        ngx_iot_entity_drop(ctx, NGX_IOT_ENTITY_MEMBER, m);

        link = next;
    }
}


/* the memberships of a device or a group, as the store has them */

static void
ngx_iot_members_reload(ngx_iot_zone_ctx_t *ctx, ngx_iot_store_t *store,
    ngx_iot_store_kind_e kind, uint64_t scope, ngx_log_t *log)
{
    ngx_iot_store_cursor_t  cur;

    ngx_memzero(&cur, sizeof(ngx_iot_store_cursor_t));
    cur.kind = kind;
    cur.scope = scope;

    (void) ngx_iot_store_list(store, &cur, 0, ngx_iot_member_loaded, ctx,
                              log);
}


static ngx_int_t
ngx_iot_member_loaded(void *row, void *data)
{
    ngx_iot_zone_ctx_t  *ctx = data;

    ngx_iot_member_t     *m = row;
    ngx_iot_store_key_t   key;

    key.id = 0;
    key.data = m->key;
    key.len = NGX_IOT_MEMBER_KEY_LEN;

    if (ngx_iot_entity_find(ctx, NGX_IOT_ENTITY_MEMBER, &key) == NULL
        && ngx_iot_entity_load(ctx, NGX_IOT_ENTITY_MEMBER, m) != NGX_OK)
    {
        return NGX_AGAIN;
    }

    return NGX_OK;
}


void
ngx_iot_member_key(u_char *key, uint64_t group_id, uint64_t device_id)
{
    ngx_memcpy(key, &group_id, sizeof(uint64_t));
    ngx_memcpy(key + sizeof(uint64_t), &device_id, sizeof(uint64_t));
}


/* adapters: their identifiers (DevEUI, DVN UUID) */

static void
ngx_iot_adapter_link(ngx_iot_zone_ctx_t *ctx, void *e)
{
    ngx_iot_ident_adapter_link(ctx, e);
}


static void
ngx_iot_adapter_unlink(ngx_iot_zone_ctx_t *ctx, void *e)
{
    ngx_iot_ident_adapter_unlink(ctx, e);
}


void
ngx_iot_adapter_key(u_char *key, uint64_t device_id, ngx_uint_t type)
{
    ngx_memcpy(key, &device_id, sizeof(uint64_t));
    key[sizeof(uint64_t)] = (u_char) type;
}


void
ngx_iot_device_about(ngx_iot_device_t *d, ngx_str_t *description,
    ngx_str_t *barcode)
{
    size_t  n;

    n = ngx_min((size_t) d->description_len, (size_t) d->about.len);

    description->data = d->about.data;
    description->len = n;
    barcode->data = d->about.data + n;
    barcode->len = d->about.len - n;
}


uint64_t
ngx_iot_uuid_key(u_char *uuid)
{
    uint64_t  key;

    ngx_memcpy(&key, uuid, sizeof(uint64_t));

    return key;
}


/* sessions: the store names the gateway, the zone keeps its key */

static void *
ngx_iot_session_row(void *row)
{
    ngx_iot_session_row_t  *r = row;

    r->session.gateway = ngx_iot_gateway_key(&r->gateway);

    return &r->session;
}


/* the generic part */

void *
ngx_iot_entity_find(ngx_iot_zone_ctx_t *ctx, ngx_iot_entity_e what,
    ngx_iot_store_key_t *key)
{
    ngx_iot_index_t   *idx;
    ngx_iot_entity_t  *ent;

    ent = &ngx_iot_entities[what];
    idx = ngx_iot_entity_index(ctx->sh, ent);

    if (ent->bytes) {
        return ngx_iot_index_find_bytes(idx, key->data, key->len);
    }

    return ngx_iot_index_find(idx, key->id);
}


ngx_int_t
ngx_iot_entity_load(ngx_iot_zone_ctx_t *ctx, ngx_iot_entity_e what,
    void *row)
{
    void                   *e;
    ngx_str_t               s;
    ngx_uint_t              i;
    ngx_iot_text_t         *t;
    ngx_iot_entity_t       *ent;
    ngx_iot_entity_text_t  *et;

    ent = &ngx_iot_entities[what];

    if (ent->row) {
        row = ent->row(row);
    }

    if (!ent->bytes && ((ngx_iot_link_t *) row)->key == 0) {
        /* not a row the zone can find: left in the store */
        return NGX_OK;
    }

    e = ngx_iot_entity_alloc(ctx, what);
    if (e == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(e, row, ent->size);

    if (what == NGX_IOT_ENTITY_DEVICE
        && ngx_iot_device_intern(ctx, e, row) != NGX_OK)
    {
        ngx_iot_entity_free(ctx, what, e);
        return NGX_ERROR;
    }

    for (i = 0; i < NGX_IOT_ENTITY_TEXTS && ent->texts[i].offset; i++) {
        et = &ent->texts[i];
        t = ngx_iot_entity_text(e, et->offset);

        s.data = t->data;
        s.len = t->len;

        if (ngx_iot_entity_text_alloc(ctx->shpool, &s, t, et->always)
            != NGX_OK)
        {
            while (i--) {
                ngx_iot_text_free(ctx->shpool,
                                  ngx_iot_entity_text(e,
                                                      ent->texts[i].offset));
            }

            ngx_iot_entity_free(ctx, what, e);
            return NGX_ERROR;
        }
    }

    ngx_iot_entity_link(ctx, what, e);

    return NGX_OK;
}


/* a new entity, made in the zone, into its index and the others */

void
ngx_iot_entity_link(ngx_iot_zone_ctx_t *ctx, ngx_iot_entity_e what, void *e)
{
    ngx_iot_entity_t  *ent;

    ent = &ngx_iot_entities[what];

    if (ent->bytes) {
        ngx_iot_index_key(e, (u_char *) e + ent->key, ent->key_len);
    }

    ngx_iot_index_insert(ctx->shpool, ngx_iot_entity_index(ctx->sh, ent), e);

    if (ent->link) {
        ent->link(ctx, e);
    }
}


void
ngx_iot_entity_drop(ngx_iot_zone_ctx_t *ctx, ngx_iot_entity_e what, void *e)
{
    ngx_uint_t         i;
    ngx_iot_entity_t  *ent;

    ent = &ngx_iot_entities[what];

    if (ent->unlink) {
        ent->unlink(ctx, e);
    }

    ngx_iot_index_remove(ngx_iot_entity_index(ctx->sh, ent), e);

    for (i = 0; i < NGX_IOT_ENTITY_TEXTS && ent->texts[i].offset; i++) {
        ngx_iot_text_free(ctx->shpool,
                          ngx_iot_entity_text(e, ent->texts[i].offset));
    }

    ngx_iot_entity_free(ctx, what, e);
}


/* devices are objects of their exact size, the others the slab's */

static void *
ngx_iot_entity_alloc(ngx_iot_zone_ctx_t *ctx, ngx_iot_entity_e what)
{
    if (what == NGX_IOT_ENTITY_DEVICE) {
        return ngx_iot_fixed_alloc(&ctx->sh->device_mem);
    }

    return ngx_slab_alloc_locked(ctx->shpool, ngx_iot_entities[what].size);
}


static void
ngx_iot_entity_free(ngx_iot_zone_ctx_t *ctx, ngx_iot_entity_e what, void *e)
{
    if (what == NGX_IOT_ENTITY_DEVICE) {
        ngx_iot_fixed_free(e);
        return;
    }

    ngx_slab_free_locked(ctx->shpool, e);
}


/* is p the entity's own memory (itself or one of its texts)? */

ngx_uint_t
ngx_iot_entity_owns(ngx_iot_entity_e what, void *e, void *p)
{
    ngx_uint_t         i;
    ngx_iot_entity_t  *ent;

    if (p == e) {
        return 1;
    }

    ent = &ngx_iot_entities[what];

    for (i = 0; i < NGX_IOT_ENTITY_TEXTS && ent->texts[i].offset; i++) {
        if (ngx_iot_entity_text(e, ent->texts[i].offset)->data == p) {
            return 1;
        }
    }

    return 0;
}


static ngx_int_t
ngx_iot_entity_loaded(void *row, void *data)
{
    ngx_iot_entity_ctx_t  *ec = data;

    /* NGX_AGAIN: the zone has no room for this row */

    return (ngx_iot_entity_load(ec->ctx, ec->what, row) == NGX_OK)
           ? NGX_OK : NGX_AGAIN;
}


/*
 * What the zone holds of one entity is thrown away and loaded again from
 * the store, which has it as it was committed (or not at all).
 */

void
ngx_iot_entity_repair(ngx_iot_zone_ctx_t *ctx, ngx_iot_store_t *store,
    ngx_iot_entity_e what, ngx_iot_store_key_t *key, ngx_log_t *log)
{
    void                  *e;
    ngx_iot_entity_t      *ent;
    ngx_iot_entity_ctx_t   ec;

    ent = &ngx_iot_entities[what];

    e = ngx_iot_entity_find(ctx, what, key);
    if (e) {
        ngx_iot_entity_drop(ctx, what, e);
    }

    ec.ctx = ctx;
    ec.what = what;

    (void) ngx_iot_store_find(store, ent->kind, key, ngx_iot_entity_loaded,
                              &ec, log);

    if (ent->repaired) {
        e = ngx_iot_entity_find(ctx, what, key);

        if (e) {
            ent->repaired(ctx, store, e, log);
        }
    }
}


/* the indexes, sized for what the store holds */

ngx_int_t
ngx_iot_entities_init(ngx_iot_zone_ctx_t *ctx, ngx_iot_store_t *store,
    ngx_uint_t *n, ngx_log_t *log)
{
    ngx_uint_t         i;
    ngx_iot_entity_t  *ent;

    for (i = 0; i < NGX_IOT_ENTITY_LAST; i++) {
        ent = &ngx_iot_entities[i];

        if (ngx_iot_store_count(store, ent->kind, 0, &n[i], log) != NGX_OK) {
            return NGX_DECLINED;
        }
    }

    for (i = 0; i < NGX_IOT_ENTITY_LAST; i++) {
        ent = &ngx_iot_entities[i];

        if (ngx_iot_index_init(ctx->shpool,
                               ngx_iot_entity_index(ctx->sh, ent), n[i])
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    ngx_iot_fixed_init(&ctx->sh->device_mem, ctx->shpool,
                       NGX_IOT_DEVICE_ZONE_SIZE);

    if (ngx_iot_intern_init(ctx->shpool, &ctx->sh->interned) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_iot_index_init(ctx->shpool, &ctx->sh->collection_uuids,
                           n[NGX_IOT_ENTITY_COLLECTION])
        != NGX_OK
        || ngx_iot_index_init(ctx->shpool, &ctx->sh->device_uuids,
                              n[NGX_IOT_ENTITY_DEVICE])
           != NGX_OK
        || ngx_iot_index_init(ctx->shpool, &ctx->sh->group_uuids,
                              n[NGX_IOT_ENTITY_GROUP])
           != NGX_OK
        || ngx_iot_index_init(ctx->shpool, &ctx->sh->members_by_group,
                              n[NGX_IOT_ENTITY_MEMBER])
           != NGX_OK
        || ngx_iot_index_init(ctx->shpool, &ctx->sh->members_by_device,
                              n[NGX_IOT_ENTITY_MEMBER])
           != NGX_OK
        || ngx_iot_index_init(ctx->shpool, &ctx->sh->product_ids,
                              n[NGX_IOT_ENTITY_PRODUCT])
           != NGX_OK
        || ngx_iot_index_init(ctx->shpool, &ctx->sh->iotda_dids,
                              n[NGX_IOT_ENTITY_IOTDA])
           != NGX_OK
        || ngx_iot_index_init(ctx->shpool, &ctx->sh->iotda_nodes,
                              n[NGX_IOT_ENTITY_IOTDA])
           != NGX_OK
        || ngx_iot_index_init(ctx->shpool, &ctx->sh->iotda_children,
                              n[NGX_IOT_ENTITY_IOTDA])
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (i = 0; i < NGX_IOT_IDENT_LAST; i++) {
        if (ngx_iot_index_init(ctx->shpool,
                               (ngx_iot_index_t *) ((u_char *) ctx->sh
                                                   + ngx_iot_idents[i].index),
                               n[ngx_iot_idents[i].adapter
                                 ? NGX_IOT_ENTITY_ADAPTER
                                 : NGX_IOT_ENTITY_DEVICE])
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/* every row of every entity, in the table's order (collections first) */

ngx_int_t
ngx_iot_entities_load(ngx_iot_zone_ctx_t *ctx, ngx_iot_store_t *store,
    ngx_log_t *log)
{
    ngx_int_t                rc;
    ngx_uint_t               i;
    ngx_iot_entity_ctx_t     ec;
    ngx_iot_store_cursor_t   cur;

    ec.ctx = ctx;

    for (i = 0; i < NGX_IOT_ENTITY_LAST; i++) {
        ngx_memzero(&cur, sizeof(ngx_iot_store_cursor_t));
        cur.kind = ngx_iot_entities[i].kind;
        ec.what = i;

        rc = ngx_iot_store_list(store, &cur, 0, ngx_iot_entity_loaded, &ec,
                                log);

        if (rc == NGX_AGAIN) {
            return NGX_ERROR;
        }

        if (rc != NGX_OK) {
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}


/* texts */

ngx_int_t
ngx_iot_text_alloc(ngx_slab_pool_t *shpool, ngx_str_t *src,
    ngx_iot_text_t *dst)
{
    if (src->len == 0 || (src->len == 2 && src->data[0] == '{')) {
        dst->data = NULL;
        dst->len = 0;
        return NGX_OK;
    }

    dst->data = ngx_slab_alloc_locked(shpool, src->len);
    if (dst->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(dst->data, src->data, src->len);
    dst->len = (uint32_t) src->len;

    return NGX_OK;
}


/* a text that is kept even when empty ends with a NUL; a plain one is
 * none when empty, tags when "{}" too */

static ngx_int_t
ngx_iot_entity_text_alloc(ngx_slab_pool_t *shpool, ngx_str_t *src,
    ngx_iot_text_t *dst, ngx_uint_t always)
{
    if (always == NGX_IOT_TEXT_TAGS) {
        return ngx_iot_text_alloc(shpool, src, dst);
    }

    if (always == NGX_IOT_TEXT_PLAIN) {
        if (src->len == 0) {
            dst->data = NULL;
            dst->len = 0;
            return NGX_OK;
        }

        dst->data = ngx_slab_alloc_locked(shpool, src->len);
        if (dst->data == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(dst->data, src->data, src->len);
        dst->len = (uint32_t) src->len;

        return NGX_OK;
    }

    dst->data = ngx_slab_alloc_locked(shpool, src->len + 1);
    if (dst->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(dst->data, src->data, src->len);
    dst->data[src->len] = '\0';
    dst->len = (uint32_t) src->len;

    return NGX_OK;
}


void
ngx_iot_text_free(ngx_slab_pool_t *shpool, ngx_iot_text_t *t)
{
    if (t->data) {
        ngx_slab_free_locked(shpool, t->data);
        t->data = NULL;
        t->len = 0;
    }
}


ngx_int_t
ngx_iot_text_copy(ngx_pool_t *pool, ngx_iot_text_t *src, ngx_iot_text_t *dst)
{
    dst->len = src->len;

    if (src->len == 0) {
        dst->data = NULL;
        return NGX_OK;
    }

    dst->data = ngx_pnalloc(pool, src->len);
    if (dst->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(dst->data, src->data, src->len);

    return NGX_OK;
}
