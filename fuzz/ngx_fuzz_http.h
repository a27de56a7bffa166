
/*
 * Copyright (C) nginx-iot authors
 *
 * For targets that run a dialect's own code on what a request carries:
 * the module's registry zone, made as nginx makes it (a slab pool, then
 * the zone's init, which builds the registry from a new, empty SQLite
 * store in a temporary directory), and a request with a pool, a
 * connection's log and the module's context of an administrator.  Lookups
 * in the registry then run for real and find nothing.
 */


#ifndef _NGX_FUZZ_HTTP_H_INCLUDED_
#define _NGX_FUZZ_HTTP_H_INCLUDED_


#include "ngx_fuzz.h"
#include <sys/mman.h>
#include "ngx_iot.h"
#include "ngx_iot_zone.h"
#include "ngx_http_iot.h"


#define NGX_FUZZ_ZONE_SIZE  (8 * 1024 * 1024)


static char              ngx_fuzz_dir[] = "/tmp/nginx-iot-fuzz-XXXXXX";
static ngx_connection_t  ngx_fuzz_conn;


static void
ngx_fuzz_rmdir(void)
{
    char  cmd[sizeof(ngx_fuzz_dir) + 16];

    ngx_sprintf((u_char *) cmd, "rm -rf %s%Z", ngx_fuzz_dir);
    (void) system(cmd);
}


static void
ngx_fuzz_zone(void)
{
    u_char              *addr;
    ngx_iot_conf_t      *icf;
    ngx_shm_zone_t      *zone;
    ngx_slab_pool_t     *sp;
    ngx_iot_zone_ctx_t  *ctx;

    if (mkdtemp(ngx_fuzz_dir) == NULL) {
        abort();
    }

    atexit(ngx_fuzz_rmdir);

    icf = ngx_pcalloc(ngx_fuzz_cycle.pool, sizeof(ngx_iot_conf_t));
    zone = ngx_pcalloc(ngx_fuzz_cycle.pool, sizeof(ngx_shm_zone_t));
    ctx = ngx_pcalloc(ngx_fuzz_cycle.pool, sizeof(ngx_iot_zone_ctx_t));

    if (icf == NULL || zone == NULL || ctx == NULL) {
        abort();
    }

    icf->store_path.data = ngx_pnalloc(ngx_fuzz_cycle.pool, 64);
    icf->history_path.data = ngx_pnalloc(ngx_fuzz_cycle.pool, 64);
    icf->store_path.len = ngx_sprintf(icf->store_path.data, "%s/iot.db%Z",
                                      ngx_fuzz_dir)
                          - icf->store_path.data - 1;
    icf->history_path.len = ngx_sprintf(icf->history_path.data,
                                        "%s/iot.db-history%Z", ngx_fuzz_dir)
                            - icf->history_path.data - 1;
    icf->shm_zone = zone;

    addr = mmap(NULL, NGX_FUZZ_ZONE_SIZE, PROT_READ | PROT_WRITE,
                MAP_ANON | MAP_SHARED, -1, 0);
    if (addr == MAP_FAILED) {
        abort();
    }

    zone->shm.addr = addr;
    zone->shm.size = NGX_FUZZ_ZONE_SIZE;
    ngx_str_set(&zone->shm.name, "iot");
    zone->shm.log = &ngx_fuzz_log;
    zone->data = ctx;

    ctx->conf = icf;
    ctx->name = zone->shm.name;

    sp = (ngx_slab_pool_t *) addr;
    sp->end = addr + NGX_FUZZ_ZONE_SIZE;
    sp->min_shift = 3;
    sp->addr = addr;

    if (ngx_shmtx_create(&sp->mutex, &sp->lock, NULL) != NGX_OK) {
        abort();
    }

    ngx_slab_init(sp);

    ngx_fuzz_cycle.conf_ctx[ngx_iot_module.index] = (void *) icf;

    if (ngx_iot_registry_init_zone(zone, NULL) != NGX_OK) {
        abort();
    }

    /* set by the http block, which never runs here */
    ngx_http_iot_module.ctx_index = 0;
}


static ngx_http_request_t *
ngx_fuzz_request(ngx_pool_t *pool)
{
    ngx_http_request_t  *r;
    ngx_http_iot_ctx_t  *ctx;

    r = ngx_pcalloc(pool, sizeof(ngx_http_request_t));
    ctx = ngx_pcalloc(pool, sizeof(ngx_http_iot_ctx_t));

    if (r == NULL || ctx == NULL) {
        abort();
    }

    r->ctx = ngx_pcalloc(pool, ngx_max_module * sizeof(void *));
    if (r->ctx == NULL) {
        abort();
    }

    ngx_memzero(&ngx_fuzz_conn, sizeof(ngx_connection_t));
    ngx_fuzz_conn.log = &ngx_fuzz_log;
    ngx_fuzz_conn.pool = pool;
    ngx_fuzz_conn.fd = -1;

    r->pool = pool;
    r->connection = &ngx_fuzz_conn;
    r->main = r;

    ctx->who.admin = 1;
    ctx->who.write = 1;
    ctx->who.all = 1;

    ngx_http_set_ctx(r, ctx, ngx_http_iot_module);

    return r;
}


/* a validator's refusal is a status and a message, never a 500 */

static void
ngx_fuzz_refusal(ngx_http_request_t *r, ngx_int_t rc)
{
    ngx_http_iot_ctx_t  *ctx;

    if (rc == NGX_OK) {
        return;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_iot_module);

    if (rc != NGX_DECLINED || ctx->message == NULL
        || ctx->status < 400 || ctx->status >= 500)
    {
        if (!(rc == NGX_DECLINED && ctx->status == 503)) {
            abort();
        }
    }

    ngx_log_error(NGX_LOG_INFO, &ngx_fuzz_log, 0, "refused: %ui %s",
                  ctx->status, ctx->message);

    ctx->status = 0;
    ctx->message = NULL;
}


/*
 * The request of a target whose input is a JSON body after its first
 * byte: an administrator's, the body parsed into ctx->body; NULL when it
 * is not a JSON object (the dialects refuse that before any validator).
 * ngx_fuzz_json_done() frees both.
 */

static ngx_http_request_t *
ngx_fuzz_json_request(const uint8_t *data, size_t size)
{
    u_char              *body;
    json_t              *json;
    ngx_pool_t          *pool;
    ngx_http_request_t  *r;
    ngx_http_iot_ctx_t  *ctx;

    if (size < 1 || size > 65536) {
        return NULL;
    }

    pool = ngx_fuzz_pool();
    body = ngx_fuzz_copy(pool, data + 1, size - 1);

    json = json_loadb((char *) body, size - 1, 0, NULL);

    if (json == NULL || !json_is_object(json)) {
        json_decref(json);
        ngx_destroy_pool(pool);
        return NULL;
    }

    r = ngx_fuzz_request(pool);
    ctx = ngx_http_get_module_ctx(r, ngx_http_iot_module);
    ctx->body = json;

    return r;
}


static void
ngx_fuzz_json_done(ngx_http_request_t *r)
{
    json_t              *json;
    ngx_http_iot_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_iot_module);
    json = ctx->body;

    /* what a validator kept in the pool is freed with it */
    ngx_destroy_pool(r->pool);

    json_decref(json);
}

#endif /* _NGX_FUZZ_HTTP_H_INCLUDED_ */
