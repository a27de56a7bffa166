
/*
 * Copyright (C) nginx-iot authors
 *
 * The identifier table of devices.  Every path that checks, indexes or
 * moves a device's identifiers goes through this table; a new identifier
 * is a new row (and its field, index and conflict code).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_iot.h"
#include "ngx_iot_index.h"
#include "ngx_iot_zone.h"
#include "ngx_iot_ident.h"


#define ngx_iot_ident_index(sh, id)                                           \
    ((ngx_iot_index_t *) ((u_char *) (sh) + (id)->index))
#define ngx_iot_ident_link_of(d, id)                                          \
    ((ngx_iot_link_t *) ((u_char *) (d) + (id)->link))


ngx_iot_ident_t  ngx_iot_idents[NGX_IOT_IDENT_LAST] = {

    { ngx_string("imsi"), ngx_string("IMSI"),
      offsetof(ngx_iot_device_t, imsi),
      offsetof(ngx_iot_sh_t, imsi),
      offsetof(ngx_iot_device_change_t, imsi),
      1, NGX_IOT_CONFLICT_IMSI, 0, 0 },

    { ngx_string("imei"), ngx_string("IMEI"),
      offsetof(ngx_iot_device_t, imei),
      offsetof(ngx_iot_sh_t, imei),
      offsetof(ngx_iot_device_change_t, imei),
      1, NGX_IOT_CONFLICT_IMEI, 0, 0 },

    { ngx_string("devEui"), ngx_string("DevEUI"),
      offsetof(ngx_iot_adapter_t, ident),
      offsetof(ngx_iot_sh_t, deveuis),
      0, 1, NGX_IOT_CONFLICT_DEVEUI, NGX_IOT_ADAPTER_LORA, 8 },

    { ngx_string("dvnUuid"), ngx_string("DVN UUID"),
      offsetof(ngx_iot_adapter_t, ident),
      offsetof(ngx_iot_sh_t, dvnuuids),
      0, 1, NGX_IOT_CONFLICT_DVNUUID, NGX_IOT_ADAPTER_GENERIC,
      NGX_IOT_UUID_SIZE }
};


ngx_iot_ident_t *
ngx_iot_ident_conflict(ngx_iot_rc_e rc)
{
    ngx_uint_t  i;

    for (i = 0; i < NGX_IOT_IDENT_LAST; i++) {
        if (ngx_iot_idents[i].conflict == rc) {
            return &ngx_iot_idents[i];
        }
    }

    return NULL;
}


ngx_iot_device_t *
ngx_iot_ident_find(ngx_iot_zone_ctx_t *ctx, ngx_iot_ident_e which,
    uint64_t key)
{
    ngx_iot_link_t   *link;
    ngx_iot_ident_t  *id;

    id = &ngx_iot_idents[which];

    link = ngx_iot_index_find(ngx_iot_ident_index(ctx->sh, id), key);

    return link ? (ngx_iot_device_t *) ((u_char *) link - id->link) : NULL;
}


void
ngx_iot_ident_keys(ngx_iot_device_t *d, ngx_iot_device_change_t *ch,
    uint64_t *keys)
{
    uint64_t    key;
    ngx_uint_t  i;

    for (i = 0; i < NGX_IOT_IDENT_DEVICE; i++) {
        key = ch ? *(uint64_t *) ((u_char *) ch + ngx_iot_idents[i].change)
                 : 0;

        if (key == 0 && d) {
            key = ngx_iot_ident_link_of(d, &ngx_iot_idents[i])->key;
        }

        keys[i] = key;
    }
}


ngx_iot_rc_e
ngx_iot_ident_check(ngx_iot_zone_ctx_t *ctx, ngx_iot_device_t *self,
    uint64_t *keys)
{
    ngx_uint_t         i;
    ngx_iot_device_t  *d;

    for (i = 0; i < NGX_IOT_IDENT_DEVICE; i++) {

        if (!ngx_iot_idents[i].unique || keys[i] == 0) {
            continue;
        }

        d = ngx_iot_ident_find(ctx, i, keys[i]);

        if (d && d != self) {
            return ngx_iot_idents[i].conflict;
        }
    }

    return NGX_IOT_OK;
}


void
ngx_iot_ident_set(ngx_iot_device_t *d, uint64_t *keys)
{
    ngx_uint_t  i;

    for (i = 0; i < NGX_IOT_IDENT_DEVICE; i++) {
        ngx_iot_ident_link_of(d, &ngx_iot_idents[i])->key = keys[i];
    }
}


void
ngx_iot_ident_link(ngx_iot_zone_ctx_t *ctx, ngx_iot_device_t *d)
{
    ngx_uint_t        i;
    ngx_iot_link_t   *link;
    ngx_iot_ident_t  *id;

    for (i = 0; i < NGX_IOT_IDENT_DEVICE; i++) {
        id = &ngx_iot_idents[i];
        link = ngx_iot_ident_link_of(d, id);

        if (link->key) {
            ngx_iot_index_insert(ctx->shpool,
                                 ngx_iot_ident_index(ctx->sh, id), link);
        }
    }
}


void
ngx_iot_ident_unlink(ngx_iot_zone_ctx_t *ctx, ngx_iot_device_t *d)
{
    ngx_uint_t        i;
    ngx_iot_ident_t  *id;

    for (i = 0; i < NGX_IOT_IDENT_DEVICE; i++) {
        id = &ngx_iot_idents[i];
        ngx_iot_index_remove(ngx_iot_ident_index(ctx->sh, id),
                             ngx_iot_ident_link_of(d, id));
    }
}


void
ngx_iot_ident_move(ngx_iot_zone_ctx_t *ctx, ngx_iot_device_t *d,
    uint64_t *keys)
{
    ngx_uint_t        i;
    ngx_iot_link_t   *link;
    ngx_iot_ident_t  *id;
    ngx_iot_index_t  *idx;

    for (i = 0; i < NGX_IOT_IDENT_DEVICE; i++) {
        id = &ngx_iot_idents[i];
        link = ngx_iot_ident_link_of(d, id);

        if (link->key == keys[i]) {
            continue;
        }

        idx = ngx_iot_ident_index(ctx->sh, id);

        ngx_iot_index_remove(idx, link);
        link->key = keys[i];

        if (link->key) {
            ngx_iot_index_insert(ctx->shpool, idx, link);
        }
    }
}


/* adapters' identifiers: the index holds 8 bytes, the adapter them all */

uint64_t
ngx_iot_ident_adapter_key(ngx_iot_ident_e which, u_char *value)
{
    uint64_t  key;

    ngx_memcpy(&key, value, sizeof(uint64_t));

    return key;
}


ngx_iot_ident_e
ngx_iot_ident_of_adapter(ngx_uint_t type)
{
    ngx_uint_t  i;

    for (i = NGX_IOT_IDENT_DEVICE; i < NGX_IOT_IDENT_LAST; i++) {
        if (ngx_iot_idents[i].adapter == type) {
            return i;
        }
    }

    return NGX_IOT_IDENT_LAST;
}


ngx_iot_adapter_t *
ngx_iot_ident_adapter(ngx_iot_zone_ctx_t *ctx, ngx_iot_ident_e which,
    u_char *value)
{
    ngx_iot_link_t     *link;
    ngx_iot_ident_t    *id;
    ngx_iot_adapter_t  *a;

    id = &ngx_iot_idents[which];

    for (link = ngx_iot_index_find(ngx_iot_ident_index(ctx->sh, id),
                                   ngx_iot_ident_adapter_key(which, value));
         link;
         link = ngx_iot_index_find_next(link))
    {
        a = (ngx_iot_adapter_t *) ((u_char *) link - id->link);

        if (ngx_memcmp(a->value, value, id->len) == 0) {
            return a;
        }
    }

    return NULL;
}


void
ngx_iot_ident_adapter_link(ngx_iot_zone_ctx_t *ctx, ngx_iot_adapter_t *a)
{
    ngx_iot_ident_e   which;
    ngx_iot_ident_t  *id;

    which = ngx_iot_ident_of_adapter(a->type);

    if (which == NGX_IOT_IDENT_LAST) {
        return;
    }

    id = &ngx_iot_idents[which];

    a->ident.key = ngx_iot_ident_adapter_key(which, a->value);
    ngx_iot_index_insert(ctx->shpool, ngx_iot_ident_index(ctx->sh, id),
                         &a->ident);
}


void
ngx_iot_ident_adapter_unlink(ngx_iot_zone_ctx_t *ctx, ngx_iot_adapter_t *a)
{
    ngx_iot_ident_e  which;

    which = ngx_iot_ident_of_adapter(a->type);

    if (which == NGX_IOT_IDENT_LAST) {
        return;
    }

    ngx_iot_index_remove(ngx_iot_ident_index(ctx->sh,
                                             &ngx_iot_idents[which]),
                         &a->ident);
}
