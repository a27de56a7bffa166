
/*
 * Copyright (C) nginx-iot authors
 *
 * The network adapters of devices: reads from the zone, writes through
 * the write sequence (ngx_iot_write.h) like every registry write.  An
 * adapter changes its device too when it is cellular (the IMEI).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <openssl/evp.h>
#include "ngx_iot.h"
#include "ngx_iot_id.h"
#include "ngx_iot_zone.h"
#include "ngx_iot_store.h"
#include "ngx_iot_entities.h"
#include "ngx_iot_ident.h"
#include "ngx_iot_journal.h"
#include "ngx_iot_write.h"
#include "ngx_iot_registry.h"
#include "ngx_iot_adapters.h"


/* one adapter write: what it is asked, what it finds, what it makes */
typedef struct {
    ngx_iot_write_t                w;
    ngx_iot_adapter_change_t       ch;
    uint64_t                       device_id;
    uint64_t                       cid;
    ngx_uint_t                     type;
    u_char                         key[NGX_IOT_ADAPTER_KEY_LEN];

    ngx_iot_device_t              *d;         /* in the zone */
    ngx_iot_adapter_t             *e;         /* in the zone; NULL: none */
    ngx_iot_adapter_t              row;       /* as the store gets it */
    ngx_iot_device_t               drow;      /* when the IMEI changes */
    uint64_t                       keys[NGX_IOT_IDENT_LAST];
    ngx_uint_t                     imei;      /* the IMEI changes */
    ngx_uint_t                     fresh;     /* a new adapter entity */

    ngx_iot_adapter_t             *out;
    ngx_iot_wait_t                *wait;
} ngx_iot_adapter_op_t;


static ngx_iot_adapter_t *ngx_iot_adapter_find(ngx_iot_zone_ctx_t *ctx,
    uint64_t device_id, ngx_uint_t type);
static ngx_iot_rc_e ngx_iot_adapter_copy(ngx_iot_adapter_t *a,
    ngx_pool_t *pool, ngx_iot_adapter_t *out);
static void ngx_iot_adapter_implicit(ngx_iot_device_t *d,
    ngx_iot_adapter_t *out);
static void ngx_iot_adapter_note(ngx_iot_adapter_op_t *op);
static ngx_iot_rc_e ngx_iot_adapter_run(ngx_cycle_t *cycle,
    ngx_iot_adapter_op_t *op, ngx_iot_write_pt check,
    ngx_iot_write_store_pt write, ngx_iot_write_pt apply, ngx_pool_t *pool,
    ngx_log_t *log, ngx_iot_wait_t *wait);
static void ngx_iot_adapter_done(ngx_iot_write_t *w);
static ngx_iot_rc_e ngx_iot_adapter_put_check(ngx_iot_write_t *w);
static ngx_int_t ngx_iot_adapter_put_store(ngx_iot_write_t *w);
static ngx_iot_rc_e ngx_iot_adapter_put_apply(ngx_iot_write_t *w);
static ngx_iot_rc_e ngx_iot_adapter_delete_check(ngx_iot_write_t *w);
static ngx_int_t ngx_iot_adapter_delete_store(ngx_iot_write_t *w);
static ngx_iot_rc_e ngx_iot_adapter_delete_apply(ngx_iot_write_t *w);


/*
 * A version 8 UUID from a hash of the device's UUID and the type: an
 * adapter needs no id of its own in the store, and a device's IMEI
 * (a cellular adapter) has one from the start.
 */

void
ngx_iot_adapter_uuid(u_char *device_uuid, ngx_uint_t type, u_char *uuid)
{
    u_char        in[sizeof("nginx-iot adapter") + NGX_IOT_UUID_SIZE];
    u_char        out[EVP_MAX_MD_SIZE];
    unsigned int  n;

    ngx_memcpy(in, "nginx-iot adapter", sizeof("nginx-iot adapter") - 1);
    ngx_memcpy(in + sizeof("nginx-iot adapter") - 1, device_uuid,
               NGX_IOT_UUID_SIZE);
    in[sizeof(in) - 1] = (u_char) type;

    (void) EVP_Digest(in, sizeof(in), out, &n, EVP_sha256(), NULL);

    ngx_memcpy(uuid, out, NGX_IOT_UUID_SIZE);
    uuid[6] = (uuid[6] & 0x0f) | 0x80;
    uuid[8] = (uuid[8] & 0x3f) | 0x80;
}


static ngx_iot_adapter_t *
ngx_iot_adapter_find(ngx_iot_zone_ctx_t *ctx, uint64_t device_id,
    ngx_uint_t type)
{
    u_char               k[NGX_IOT_ADAPTER_KEY_LEN];
    ngx_iot_store_key_t  key;

    ngx_iot_adapter_key(k, device_id, type);

    key.id = 0;
    key.data = k;
    key.len = NGX_IOT_ADAPTER_KEY_LEN;

    return ngx_iot_entity_find(ctx, NGX_IOT_ENTITY_ADAPTER, &key);
}


static ngx_iot_rc_e
ngx_iot_adapter_copy(ngx_iot_adapter_t *a, ngx_pool_t *pool,
    ngx_iot_adapter_t *out)
{
    *out = *a;

    return (ngx_iot_text_copy(pool, &a->iccid, &out->iccid) == NGX_OK)
           ? NGX_IOT_OK : NGX_IOT_STORE_ERROR;
}


/* the cellular adapter a device has by its IMEI alone */

static void
ngx_iot_adapter_implicit(ngx_iot_device_t *d, ngx_iot_adapter_t *out)
{
    ngx_memzero(out, sizeof(ngx_iot_adapter_t));

    out->type = NGX_IOT_ADAPTER_CELLULAR;
    out->device_id = d->id.key;
    ngx_iot_adapter_key(out->key, d->id.key, NGX_IOT_ADAPTER_CELLULAR);
    out->created_at = d->created_at;
    out->modified_at = d->modified_at;
}


ngx_iot_rc_e
ngx_iot_adapters_get(ngx_cycle_t *cycle, uint64_t device_id, uint64_t cid,
    ngx_pool_t *pool, ngx_iot_device_t *d, ngx_iot_adapter_t *out,
    ngx_uint_t *present)
{
    ngx_uint_t           i;
    ngx_iot_rc_e         rc;
    ngx_iot_device_t    *zd;
    ngx_iot_adapter_t   *a;
    ngx_iot_zone_ctx_t  *ctx;

    ctx = ngx_iot_lock_read(cycle);

    zd = ngx_iot_device_find(ctx, device_id);

    if (zd == NULL || (cid && zd->collection_id != cid)) {
        rc = NGX_IOT_NOT_FOUND;
        goto done;
    }

    rc = ngx_iot_device_copy(zd, pool, d);

    for (i = 0; rc == NGX_IOT_OK && i < NGX_IOT_ADAPTER_TYPES; i++) {
        a = ngx_iot_adapter_find(ctx, device_id, i + 1);
        present[i] = 0;

        if (a) {
            rc = ngx_iot_adapter_copy(a, pool, &out[i]);
            present[i] = 1;

        } else if (i + 1 == NGX_IOT_ADAPTER_CELLULAR && zd->imei.key) {
            ngx_iot_adapter_implicit(zd, &out[i]);
            present[i] = 1;
        }
    }

done:

    ngx_iot_unlock_read(ctx);

    return rc;
}


ngx_iot_rc_e
ngx_iot_device_get_adapter(ngx_cycle_t *cycle, ngx_iot_ident_e which,
    u_char *value, ngx_pool_t *pool, ngx_iot_device_t *out)
{
    ngx_iot_rc_e         rc;
    ngx_iot_device_t    *d;
    ngx_iot_adapter_t   *a;
    ngx_iot_zone_ctx_t  *ctx;

    ctx = ngx_iot_lock_read(cycle);

    a = ngx_iot_ident_adapter(ctx, which, value);
    d = a ? ngx_iot_device_find(ctx, a->device_id) : NULL;

    rc = d ? ngx_iot_device_copy(d, pool, out) : NGX_IOT_NOT_FOUND;

    ngx_iot_unlock_read(ctx);

    return rc;
}


/* the entities a write changes, for the crash journal */

static void
ngx_iot_adapter_note(ngx_iot_adapter_op_t *op)
{
    ngx_iot_store_key_t  key;

    key.id = 0;
    key.data = op->key;
    key.len = NGX_IOT_ADAPTER_KEY_LEN;

    ngx_iot_journal_note(op->w.ctx, NGX_IOT_ENTITY_ADAPTER, &key);

    if (op->imei) {
        key.id = op->device_id;
        key.data = NULL;
        key.len = 0;

        ngx_iot_journal_note(op->w.ctx, NGX_IOT_ENTITY_DEVICE, &key);
    }
}


/* one write, here and now or posted for a caller that waits */

static ngx_iot_rc_e
ngx_iot_adapter_run(ngx_cycle_t *cycle, ngx_iot_adapter_op_t *op,
    ngx_iot_write_pt check, ngx_iot_write_store_pt write,
    ngx_iot_write_pt apply, ngx_pool_t *pool, ngx_log_t *log,
    ngx_iot_wait_t *wait)
{
    ngx_iot_rc_e           rc;
    ngx_iot_adapter_t     *out;
    ngx_iot_adapter_op_t  *p;

    out = op->out;

    if (wait) {
        p = ngx_palloc(wait->pool, sizeof(ngx_iot_adapter_op_t));
        if (p == NULL) {
            return NGX_IOT_STORE_ERROR;
        }

        *p = *op;
        p->wait = wait;
        p->out = &wait->out.a;
        op = p;
    }

    ngx_memzero(&op->w, sizeof(ngx_iot_write_t));
    op->w.check = check;
    op->w.write = write;
    op->w.apply = apply;
    op->w.data = op;
    op->w.pool = pool;
    op->w.log = log;

    if (wait == NULL) {
        return ngx_iot_write(cycle, &op->w);
    }

    op->w.done = ngx_iot_adapter_done;
    op->w.done_data = op;

    rc = ngx_iot_write_post(cycle, &op->w);

    if (rc == NGX_IOT_QUEUED) {
        return rc;
    }

    /* no writer: answered here and now */

    if (rc == NGX_IOT_OK && out && out != &wait->out.a) {
        *out = wait->out.a;
    }

    return rc;
}


static void
ngx_iot_adapter_done(ngx_iot_write_t *w)
{
    ngx_iot_adapter_op_t  *op = w->done_data;

    op->wait->rc = w->rc;
    op->wait->handler(op->wait);
}


/* making or changing an adapter */

ngx_iot_rc_e
ngx_iot_adapter_put(ngx_cycle_t *cycle, ngx_iot_adapter_change_t *ch,
    ngx_pool_t *pool, ngx_iot_adapter_t *out, ngx_log_t *log,
    ngx_iot_wait_t *wait)
{
    ngx_iot_adapter_op_t  op;

    if (ch->type < 1 || ch->type > NGX_IOT_ADAPTER_TYPES) {
        return NGX_IOT_NOT_FOUND;
    }

    ngx_memzero(&op, sizeof(ngx_iot_adapter_op_t));
    op.ch = *ch;
    op.device_id = ch->device_id;
    op.cid = ch->collection_id;
    op.type = ch->type;
    op.out = out;
    ngx_iot_adapter_key(op.key, op.device_id, op.type);

    return ngx_iot_adapter_run(cycle, &op, ngx_iot_adapter_put_check,
                               ngx_iot_adapter_put_store,
                               ngx_iot_adapter_put_apply, pool, log, wait);
}


static ngx_iot_rc_e
ngx_iot_adapter_put_check(ngx_iot_write_t *w)
{
    ngx_iot_adapter_op_t      *op = w->data;
    ngx_iot_adapter_change_t  *ch = &op->ch;

    ngx_uint_t          exists, same_iccid;
    ngx_iot_ident_e     which;
    ngx_iot_device_t   *other;
    ngx_iot_adapter_t  *a, *taken;

    op->d = ngx_iot_device_find(w->ctx, op->device_id);

    if (op->d == NULL || op->d->collection_id != op->cid) {
        return NGX_IOT_NOT_FOUND;
    }

    op->e = ngx_iot_adapter_find(w->ctx, op->device_id, op->type);

    exists = (op->e != NULL)
             || (op->type == NGX_IOT_ADAPTER_CELLULAR && op->d->imei.key);

    if (ch->create && exists) {
        return NGX_IOT_EXISTS;
    }

    if (!ch->create && !exists) {
        return NGX_IOT_NOT_FOUND;
    }

    /* the identifier: the adapter's own, unique in the registry */

    if (op->type == NGX_IOT_ADAPTER_CELLULAR) {
        if (exists && ch->imei != op->d->imei.key) {
            return NGX_IOT_IMMUTABLE;
        }

        other = ngx_iot_ident_find(w->ctx, NGX_IOT_IDENT_IMEI, ch->imei);

        if (other && other != op->d) {
            return NGX_IOT_CONFLICT_IMEI;
        }

        op->imei = (ch->imei != op->d->imei.key);

    } else {
        which = ngx_iot_ident_of_adapter(op->type);

        if (op->e && ngx_memcmp(op->e->value, ch->value,
                                ngx_iot_idents[which].len) != 0)
        {
            return NGX_IOT_IMMUTABLE;
        }

        taken = ngx_iot_ident_adapter(w->ctx, which, ch->value);

        if (taken && taken != op->e) {
            return ngx_iot_idents[which].conflict;
        }
    }

    /* nothing to change: answered with the adapter as it is */

    same_iccid = op->e ? (op->e->iccid.len == ch->iccid.len
                          && (ch->iccid.len == 0
                              || ngx_memcmp(op->e->iccid.data,
                                            ch->iccid.data, ch->iccid.len)
                                 == 0))
                       : (ch->iccid.len == 0);

    if (exists && same_iccid && !op->imei && ch->secret.len == 0
        && ch->join_eui.len == 0)
    {
        w->unchanged = 1;

        if (op->e) {
            return ngx_iot_adapter_copy(op->e, w->pool, op->out);
        }

        ngx_iot_adapter_implicit(op->d, op->out);
        return NGX_IOT_OK;
    }

    /* the row as it will be */

    if (op->e) {
        op->row = *op->e;

    } else {
        ngx_memzero(&op->row, sizeof(ngx_iot_adapter_t));
        op->row.type = (u_char) op->type;
        op->row.device_id = op->device_id;
        ngx_memcpy(op->row.key, op->key, NGX_IOT_ADAPTER_KEY_LEN);
        ngx_memcpy(op->row.value, ch->value, NGX_IOT_UUID_SIZE);

        /* a device's IMEI made its cellular adapter when it was made */
        op->row.created_at = (op->type == NGX_IOT_ADAPTER_CELLULAR
                              && op->d->imei.key)
                             ? op->d->created_at : ngx_iot_now_ms();
    }

    op->row.modified_at = ngx_iot_now_ms();
    op->row.secret |= (ch->secret.len || ch->join_eui.len);

    if (!same_iccid) {
        if (ngx_iot_journal_text(w->ctx, &ch->iccid, NGX_IOT_TEXT_PLAIN,
                                 &op->row.iccid)
            != NGX_OK)
        {
            goto full;
        }
    }

    if (op->e == NULL) {
        a = ngx_iot_journal_alloc(w->ctx, sizeof(ngx_iot_adapter_t));
        if (a == NULL) {
            goto full;
        }

        op->e = a;
        op->fresh = 1;
    }

    if (op->imei) {
        ngx_iot_device_unpack(op->d, &op->drow);
        ngx_iot_ident_keys(op->d, NULL, op->keys);
        op->keys[NGX_IOT_IDENT_IMEI] = ch->imei;
        ngx_iot_ident_set(&op->drow, op->keys);
    }

    ngx_iot_adapter_note(op);

    return NGX_IOT_OK;

full:

    ngx_log_error(NGX_LOG_ERR, w->log, 0,
                  "iot zone \"%V\" is full: cannot change an adapter; make "
                  "the zone larger (iot_zone)", &w->ctx->name);

    return NGX_IOT_ZONE_FULL;
}


static ngx_int_t
ngx_iot_adapter_put_store(ngx_iot_write_t *w)
{
    ngx_iot_adapter_op_t  *op = w->data;

    if (op->imei
        && ngx_iot_store_device_put(w->store, &op->drow, 0, w->log)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_iot_store_adapter_put(w->store, &op->row, &op->ch.secret,
                                     &op->ch.join_eui, w->log);
}


static ngx_iot_rc_e
ngx_iot_adapter_put_apply(ngx_iot_write_t *w)
{
    ngx_iot_adapter_op_t  *op = w->data;

    ngx_iot_text_t      old;
    ngx_iot_adapter_t  *a;

    if (op->imei) {
        ngx_iot_ident_move(w->ctx, op->d, op->keys);
    }

    a = op->e;

    if (op->fresh) {
        *a = op->row;
        ngx_iot_entity_link(w->ctx, NGX_IOT_ENTITY_ADAPTER, a);

    } else {
        /* the new text in place first, then the old one freed */
        old = a->iccid;
        a->iccid = op->row.iccid;

        if (old.data != a->iccid.data) {
            ngx_iot_text_free(w->ctx->shpool, &old);
        }

        a->modified_at = op->row.modified_at;
        a->secret = op->row.secret;
    }

    return ngx_iot_adapter_copy(a, w->pool, op->out);
}


/* removing an adapter */

ngx_iot_rc_e
ngx_iot_adapter_delete(ngx_cycle_t *cycle, uint64_t device_id, uint64_t cid,
    ngx_uint_t type, ngx_log_t *log, ngx_iot_wait_t *wait)
{
    ngx_iot_adapter_op_t  op;

    if (type < 1 || type > NGX_IOT_ADAPTER_TYPES) {
        return NGX_IOT_NOT_FOUND;
    }

    ngx_memzero(&op, sizeof(ngx_iot_adapter_op_t));
    op.device_id = device_id;
    op.cid = cid;
    op.type = type;
    ngx_iot_adapter_key(op.key, device_id, type);

    return ngx_iot_adapter_run(cycle, &op, ngx_iot_adapter_delete_check,
                               ngx_iot_adapter_delete_store,
                               ngx_iot_adapter_delete_apply, NULL, log,
                               wait);
}


static ngx_iot_rc_e
ngx_iot_adapter_delete_check(ngx_iot_write_t *w)
{
    ngx_iot_adapter_op_t  *op = w->data;

    op->d = ngx_iot_device_find(w->ctx, op->device_id);

    if (op->d == NULL || op->d->collection_id != op->cid) {
        return NGX_IOT_NOT_FOUND;
    }

    op->e = ngx_iot_adapter_find(w->ctx, op->device_id, op->type);

    op->imei = (op->type == NGX_IOT_ADAPTER_CELLULAR && op->d->imei.key);

    if (op->e == NULL && !op->imei) {
        return NGX_IOT_NOT_FOUND;
    }

    if (op->imei) {
        ngx_iot_device_unpack(op->d, &op->drow);
        ngx_iot_ident_keys(op->d, NULL, op->keys);
        op->keys[NGX_IOT_IDENT_IMEI] = 0;
        ngx_iot_ident_set(&op->drow, op->keys);
    }

    ngx_iot_adapter_note(op);

    return NGX_IOT_OK;
}


static ngx_int_t
ngx_iot_adapter_delete_store(ngx_iot_write_t *w)
{
    ngx_iot_adapter_op_t  *op = w->data;

    ngx_iot_store_key_t  key;

    if (op->imei
        && ngx_iot_store_device_put(w->store, &op->drow, 0, w->log)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    key.id = 0;
    key.data = op->key;
    key.len = NGX_IOT_ADAPTER_KEY_LEN;

    return ngx_iot_store_delete(w->store, NGX_IOT_STORE_ADAPTERS, &key,
                                w->log);
}


static ngx_iot_rc_e
ngx_iot_adapter_delete_apply(ngx_iot_write_t *w)
{
    ngx_iot_adapter_op_t  *op = w->data;

    if (op->imei) {
        ngx_iot_ident_move(w->ctx, op->d, op->keys);
    }

    if (op->e) {
        ngx_iot_entity_drop(w->ctx, NGX_IOT_ENTITY_ADAPTER, op->e);
    }

    return NGX_IOT_OK;
}
