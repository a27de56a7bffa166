
/*
 * Copyright (C) nginx-iot authors
 *
 * DTLS pre-shared keys (ngx_iot_psk.h).  A PSK identity names a device in
 * one of the forms the dialects know, each a source below:
 *
 *   the collections dialect's device id    its key set with PATCH .../psk
 *   an IMEI (15 or 16 digits)              the device's cellular adapter's
 *                                          sharedSecret (things dialect)
 *   a DVN UUID                             the device's generic adapter's
 *                                          sharedSecret (things dialect)
 *
 * A dialect that holds keys of its own adds its source to the table.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_iot.h"
#include "ngx_iot_id.h"
#include "ngx_iot_ident.h"
#include "ngx_iot_store.h"
#include "ngx_iot_write.h"
#include "ngx_iot_adapters.h"
#include "ngx_iot_iotda.h"
#include "ngx_iot_psk.h"


typedef struct {
    ngx_iot_write_t            w;
    uint64_t                   device_id;
    ngx_str_t                  key;
    ngx_iot_wait_t            *wait;
} ngx_iot_psk_write_t;


static ngx_int_t ngx_iot_psk_collections(ngx_cycle_t *cycle,
    ngx_str_t *identity, ngx_pool_t *pool, ngx_str_t *key,
    ngx_iot_device_t *d, ngx_log_t *log);
static ngx_int_t ngx_iot_psk_imei(ngx_cycle_t *cycle, ngx_str_t *identity,
    ngx_pool_t *pool, ngx_str_t *key, ngx_iot_device_t *d, ngx_log_t *log);
static ngx_int_t ngx_iot_psk_dvn(ngx_cycle_t *cycle, ngx_str_t *identity,
    ngx_pool_t *pool, ngx_str_t *key, ngx_iot_device_t *d, ngx_log_t *log);
static ngx_int_t ngx_iot_psk_iotda(ngx_cycle_t *cycle, ngx_str_t *identity,
    ngx_pool_t *pool, ngx_str_t *key, ngx_iot_device_t *d, ngx_log_t *log);
static ngx_int_t ngx_iot_psk_adapter(ngx_cycle_t *cycle, ngx_uint_t type,
    ngx_pool_t *pool, ngx_str_t *key, ngx_iot_device_t *d, ngx_log_t *log);
static ngx_iot_rc_e ngx_iot_psk_check(ngx_iot_write_t *w);
static ngx_int_t ngx_iot_psk_store(ngx_iot_write_t *w);
static void ngx_iot_psk_written(ngx_iot_write_t *w);


/* the sources, asked in this order; the first that knows the identity */
static ngx_iot_psk_source_pt  ngx_iot_psk_sources[] = {
    ngx_iot_psk_collections,
    ngx_iot_psk_iotda,
    ngx_iot_psk_imei,
    ngx_iot_psk_dvn,
    NULL
};


ngx_iot_rc_e
ngx_iot_psk_key(ngx_cycle_t *cycle, ngx_str_t *identity, ngx_pool_t *pool,
    ngx_str_t *key, ngx_iot_device_t *d, ngx_log_t *log)
{
    ngx_int_t   rc;
    ngx_str_t   k;
    ngx_uint_t  i;

    if (identity->len == 0) {
        return NGX_IOT_NOT_FOUND;
    }

    for (i = 0; ngx_iot_psk_sources[i]; i++) {
        rc = ngx_iot_psk_sources[i](cycle, identity, pool, &k, d, log);

        if (rc == NGX_DECLINED) {
            continue;
        }

        if (rc != NGX_OK) {
            return NGX_IOT_STORE_ERROR;
        }

        if (key) {
            *key = k;
        }

        return NGX_IOT_OK;
    }

    return NGX_IOT_NOT_FOUND;
}


/* the collections dialect's device id: the key set for the device */

static ngx_int_t
ngx_iot_psk_collections(ngx_cycle_t *cycle, ngx_str_t *identity,
    ngx_pool_t *pool, ngx_str_t *key, ngx_iot_device_t *d, ngx_log_t *log)
{
    uint64_t          id;
    ngx_int_t         rc;
    ngx_iot_store_t  *store;

    if (ngx_iot_id_decode(identity->data, identity->len, &id) != NGX_OK
        || ngx_iot_device_get(cycle, id, 0, pool, d) != NGX_IOT_OK)
    {
        return NGX_DECLINED;
    }

    store = ngx_iot_store_get(cycle, log);
    if (store == NULL) {
        return NGX_ERROR;
    }

    key->data = ngx_pnalloc(pool, NGX_IOT_PSK_MAX);
    if (key->data == NULL) {
        return NGX_ERROR;
    }

    rc = ngx_iot_store_psk_get(store, id, key->data, NGX_IOT_PSK_MAX,
                               &key->len, log);

    return rc;
}


/* an IMEI: the shared secret of the device's cellular adapter */

static ngx_int_t
ngx_iot_psk_imei(ngx_cycle_t *cycle, ngx_str_t *identity, ngx_pool_t *pool,
    ngx_str_t *key, ngx_iot_device_t *d, ngx_log_t *log)
{
    uint64_t    imei;
    ngx_uint_t  i;

    if (identity->len < 15 || identity->len > 16) {
        return NGX_DECLINED;
    }

    for (i = 0; i < identity->len; i++) {
        if (identity->data[i] < '0' || identity->data[i] > '9') {
            return NGX_DECLINED;
        }
    }

    if (ngx_iot_ident_decode(identity->data, identity->len, &imei) != NGX_OK
        || ngx_iot_device_get_ident(cycle, NGX_IOT_IDENT_IMEI, imei, pool, d)
           != NGX_IOT_OK)
    {
        return NGX_DECLINED;
    }

    return ngx_iot_psk_adapter(cycle, NGX_IOT_ADAPTER_CELLULAR, pool, key, d,
                               log);
}


/* a DVN UUID: the shared secret of the device's generic adapter */

static ngx_int_t
ngx_iot_psk_dvn(ngx_cycle_t *cycle, ngx_str_t *identity, ngx_pool_t *pool,
    ngx_str_t *key, ngx_iot_device_t *d, ngx_log_t *log)
{
    u_char  uuid[NGX_IOT_UUID_SIZE];

    if (identity->len != NGX_IOT_UUID_LEN
        || ngx_iot_uuid_decode(identity->data, identity->len, uuid) != NGX_OK
        || ngx_iot_device_get_adapter(cycle, NGX_IOT_IDENT_DVNUUID, uuid,
                                      pool, d)
           != NGX_IOT_OK)
    {
        return NGX_DECLINED;
    }

    return ngx_iot_psk_adapter(cycle, NGX_IOT_ADAPTER_GENERIC, pool, key, d,
                               log);
}


/*
 * An IoTDA node id: the device's auth_info secret, written in hex (the
 * key's bytes); a secret that is not hex is no DTLS key.  Asked before
 * the cellular adapter's, since a node id may be an IMEI.
 */

static ngx_int_t
ngx_iot_psk_iotda(ngx_cycle_t *cycle, ngx_str_t *identity, ngx_pool_t *pool,
    ngx_str_t *key, ngx_iot_device_t *d, ngx_log_t *log)
{
    uint64_t          id, imei;
    ngx_int_t         rc;
    ngx_str_t         secret, secondary, node;
    ngx_iot_store_t  *store;

    imei = ngx_iot_iotda_imei(identity->data, identity->len);

    /* a node id that is an IMEI is kept as the device's IMEI */
    node = *identity;

    if (imei) {
        ngx_str_null(&node);

        if (ngx_iot_device_get_ident(cycle, NGX_IOT_IDENT_IMEI, imei, pool,
                                     d)
            != NGX_IOT_OK)
        {
            return NGX_DECLINED;
        }

    } else {
        id = ngx_iot_iotda_node_device(cycle, identity->data, identity->len);

        if (id == 0 || ngx_iot_device_get(cycle, id, 0, pool, d)
                       != NGX_IOT_OK)
        {
            return NGX_DECLINED;
        }
    }

    store = ngx_iot_store_get(cycle, log);
    if (store == NULL) {
        return NGX_ERROR;
    }

    rc = ngx_iot_store_iotda_secret(store, d->id.key, &node, pool, &secret,
                                    &secondary, log);
    if (rc != NGX_OK) {
        return rc;
    }

    key->len = secret.len / 2;
    key->data = ngx_pnalloc(pool, key->len + 1);
    if (key->data == NULL) {
        ngx_explicit_memzero(secret.data, secret.len);
        return NGX_ERROR;
    }

    rc = (secret.len % 2 == 0 && secret.len
          && ngx_iot_hex_decode(key->data, secret.data, secret.len) == NGX_OK)
         ? NGX_OK : NGX_DECLINED;

    ngx_explicit_memzero(secret.data, secret.len);
    ngx_explicit_memzero(secondary.data, secondary.len);

    return rc;
}


static ngx_int_t
ngx_iot_psk_adapter(ngx_cycle_t *cycle, ngx_uint_t type, ngx_pool_t *pool,
    ngx_str_t *key, ngx_iot_device_t *d, ngx_log_t *log)
{
    ngx_iot_store_t  *store;

    store = ngx_iot_store_get(cycle, log);
    if (store == NULL) {
        return NGX_ERROR;
    }

    key->data = ngx_pnalloc(pool, NGX_IOT_PSK_MAX);
    if (key->data == NULL) {
        return NGX_ERROR;
    }

    return ngx_iot_store_adapter_secret(store, d->id.key, type, key->data,
                                        NGX_IOT_PSK_MAX, &key->len, log);
}


/* the collections dialect's key: a write of the registry's writer */

ngx_iot_rc_e
ngx_iot_psk_put(ngx_cycle_t *cycle, uint64_t device_id, ngx_str_t *key,
    ngx_pool_t *pool, ngx_log_t *log, ngx_iot_wait_t *wait)
{
    ngx_iot_rc_e          rc;
    ngx_iot_psk_write_t  *pw;

    pw = ngx_pcalloc(pool, sizeof(ngx_iot_psk_write_t));
    if (pw == NULL) {
        return NGX_IOT_STORE_ERROR;
    }

    pw->device_id = device_id;
    pw->key = *key;
    pw->wait = wait;
    pw->w.check = ngx_iot_psk_check;
    pw->w.write = ngx_iot_psk_store;
    pw->w.apply = ngx_iot_psk_check;
    pw->w.data = pw;
    pw->w.log = log;
    pw->w.pool = pool;

    if (wait == NULL) {
        return ngx_iot_write(cycle, &pw->w);
    }

    pw->w.done = ngx_iot_psk_written;
    pw->w.done_data = pw;

    rc = ngx_iot_write_post(cycle, &pw->w);

    if (rc != NGX_IOT_QUEUED) {
        wait->rc = rc;
    }

    return rc;
}


/* the zone has no part in a key */

static ngx_iot_rc_e
ngx_iot_psk_check(ngx_iot_write_t *w)
{
    return NGX_IOT_OK;
}


static ngx_int_t
ngx_iot_psk_store(ngx_iot_write_t *w)
{
    ngx_iot_psk_write_t  *pw = w->data;

    return ngx_iot_store_psk_put(w->store, pw->device_id, &pw->key, w->log);
}


static void
ngx_iot_psk_written(ngx_iot_write_t *w)
{
    ngx_iot_psk_write_t  *pw = w->done_data;

    pw->wait->rc = w->rc;
    pw->wait->handler(pw->wait);
}
