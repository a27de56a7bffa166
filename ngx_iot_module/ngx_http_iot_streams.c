
/*
 * Copyright (C) nginx-iot authors
 *
 * Limits on live streams.  Streams of one token or one collection may be
 * open in any worker, so they are counted in a shared zone ("iot_streams"):
 * one node per key (a collection, a token) and worker, holding how many
 * streams of the key that worker has open.  A worker killed with its
 * streams open leaves its nodes behind; whoever counts the key next finds
 * the worker gone and drops them.  The zone's mutex is nginx's slab mutex,
 * which the master releases when a worker dies holding it.
 *
 * The streams of this worker are counted here, without the zone: they
 * may take at most a share of worker_connections.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <ngx_http.h>
#include "ngx_http_iot.h"
#include "ngx_http_iot_streams.h"


#define NGX_HTTP_IOT_STREAMS_TOKENS       0
#define NGX_HTTP_IOT_STREAMS_COLLECTIONS  1

/* nodes a stream may need, and room for a reload's old workers */
#define NGX_HTTP_IOT_STREAMS_NODE_ROOM    128
#define NGX_HTTP_IOT_STREAMS_ZONE_MIN     (64 * 1024)


typedef struct {
    ngx_rbtree_node_t          node;      /* key: id, as far as it goes */
    uint64_t                   id;
    ngx_pid_t                  pid;
    ngx_uint_t                 count;
} ngx_http_iot_streams_node_t;


typedef struct {
    ngx_rbtree_t               tree[2];
    ngx_rbtree_node_t          sentinel[2];
} ngx_http_iot_streams_sh_t;


static ngx_int_t ngx_http_iot_streams_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_http_iot_streams_sh_t *ngx_http_iot_streams_sh(
    ngx_slab_pool_t **shpool);
static ngx_uint_t ngx_http_iot_streams_sum(ngx_slab_pool_t *shpool,
    ngx_rbtree_t *tree, uint64_t id, ngx_http_iot_streams_node_t **mine);
static ngx_int_t ngx_http_iot_streams_add(ngx_slab_pool_t *shpool,
    ngx_rbtree_t *tree, uint64_t id, ngx_http_iot_streams_node_t *mine);
static void ngx_http_iot_streams_sub(ngx_slab_pool_t *shpool,
    ngx_rbtree_t *tree, uint64_t id);
static uint64_t ngx_http_iot_streams_token_id(u_char *hash);
static void ngx_http_iot_streams_refused(ngx_iot_ws_refused_e why);


/* this worker's open streams */
static ngx_uint_t  ngx_http_iot_streams_here;

static ngx_str_t  ngx_http_iot_streams_zone_name = ngx_string("iot_streams");


char *
ngx_http_iot_streams_per_worker(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_iot_main_conf_t *mcf = conf;

    ngx_int_t   n;
    ngx_str_t  *value;

    if (mcf->per_worker != NGX_CONF_UNSET_UINT
        || mcf->per_worker_pct != NGX_CONF_UNSET_UINT)
    {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len > 1 && value[1].data[value[1].len - 1] == '%') {
        n = ngx_atoi(value[1].data, value[1].len - 1);

        if (n < 1 || n > 100) {
            return "must be a number, or a percentage from 1% to 100%";
        }

        mcf->per_worker_pct = n;
        return NGX_CONF_OK;
    }

    n = ngx_atoi(value[1].data, value[1].len);

    if (n < 1) {
        return "must be a number, or a percentage from 1% to 100%";
    }

    mcf->per_worker = n;

    return NGX_CONF_OK;
}


/*
 * The zone holds at most two nodes per open stream: its size follows from
 * the streams all workers may have (the events and worker_processes
 * directives come before http as a rule; if not, nginx's defaults).
 */

char *
ngx_http_iot_streams_init_conf(ngx_conf_t *cf, ngx_http_iot_main_conf_t *mcf)
{
    size_t                 size;
    void                ***events;
    ngx_uint_t             workers, connections, streams;
    ngx_core_conf_t       *ccf;
    ngx_event_conf_t      *ecf;

    ngx_conf_init_uint_value(mcf->per_token, 100);
    ngx_conf_init_uint_value(mcf->per_collection, 1000);

    if (mcf->per_worker == NGX_CONF_UNSET_UINT) {
        mcf->per_worker = 0;
        ngx_conf_init_uint_value(mcf->per_worker_pct, 50);

    } else {
        mcf->per_worker_pct = 0;
    }

    ccf = (ngx_core_conf_t *) ngx_get_conf(cf->cycle->conf_ctx,
                                           ngx_core_module);

    workers = (ccf->worker_processes == NGX_CONF_UNSET) ? 1
              : (ngx_uint_t) ccf->worker_processes;

    connections = 512;

    events = (void ***) ngx_get_conf(cf->cycle->conf_ctx, ngx_events_module);

    if (events) {
        ecf = (*events)[ngx_event_core_module.ctx_index];

        if (ecf && ecf->connections != NGX_CONF_UNSET_UINT) {
            connections = ecf->connections;
        }
    }

    streams = mcf->per_worker ? ngx_min(mcf->per_worker, connections)
                              : connections * mcf->per_worker_pct / 100;

    size = workers * (streams + 1) * NGX_HTTP_IOT_STREAMS_NODE_ROOM;
    size = ngx_max(size, NGX_HTTP_IOT_STREAMS_ZONE_MIN);
    size = ngx_align(size, ngx_pagesize);

    mcf->zone = ngx_shared_memory_add(cf, &ngx_http_iot_streams_zone_name,
                                      size, &ngx_http_iot_module);
    if (mcf->zone == NULL) {
        return NGX_CONF_ERROR;
    }

    mcf->zone->init = ngx_http_iot_streams_init_zone;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_iot_streams_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_uint_t                  i;
    ngx_slab_pool_t            *shpool;
    ngx_http_iot_streams_sh_t  *sh;

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (data) {
        /* a reload with the same size: the counts go on */
        shm_zone->data = data;
        return NGX_OK;
    }

    if (shm_zone->shm.exists) {
        shm_zone->data = shpool->data;
        return NGX_OK;
    }

    sh = ngx_slab_alloc(shpool, sizeof(ngx_http_iot_streams_sh_t));
    if (sh == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < 2; i++) {
        ngx_rbtree_init(&sh->tree[i], &sh->sentinel[i],
                        ngx_rbtree_insert_value);
    }

    /* a full zone is logged once per refusal, by us */
    shpool->log_nomem = 0;
    shpool->data = sh;
    shm_zone->data = sh;

    return NGX_OK;
}


static ngx_http_iot_streams_sh_t *
ngx_http_iot_streams_sh(ngx_slab_pool_t **shpool)
{
    ngx_http_iot_main_conf_t  *mcf;

    mcf = ngx_http_cycle_get_module_main_conf(ngx_cycle, ngx_http_iot_module);

    if (mcf == NULL || mcf->zone == NULL || mcf->zone->data == NULL) {
        return NULL;
    }

    *shpool = (ngx_slab_pool_t *) mcf->zone->shm.addr;

    return mcf->zone->data;
}


ngx_int_t
ngx_http_iot_streams_count(ngx_http_request_t *r, u_char *hash, uint64_t cid,
    ngx_uint_t *status, const char **message)
{
    u_char                       *p;
    uint64_t                      tid;
    ngx_uint_t                    most, n;
    ngx_slab_pool_t              *shpool;
    ngx_http_iot_main_conf_t     *mcf;
    ngx_http_iot_streams_sh_t    *sh;
    ngx_http_iot_streams_node_t  *tmine, *cmine;

    mcf = ngx_http_get_module_main_conf(r, ngx_http_iot_module);

    *status = NGX_HTTP_SERVICE_UNAVAILABLE;

    p = ngx_pnalloc(r->pool, 128);
    if (p == NULL) {
        return NGX_ERROR;
    }

    *message = (const char *) p;

    /* this worker first: the API keeps its share of the connections */

    most = mcf->per_worker ? mcf->per_worker
           : ngx_cycle->connection_n * mcf->per_worker_pct / 100;

    if (ngx_http_iot_streams_here >= most) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "WebSocket stream refused: this worker has %ui "
                      "streams open, the most it may have "
                      "(iot_ws_streams_per_worker)", most);

        ngx_http_iot_streams_refused(NGX_IOT_WS_REFUSED_WORKER);

        (void) ngx_sprintf(p, "this server has as many streams open as "
                           "it may, try again later%Z");
        return NGX_DECLINED;
    }

    sh = ngx_http_iot_streams_sh(&shpool);
    if (sh == NULL) {
        return NGX_ERROR;
    }

    tid = ngx_http_iot_streams_token_id(hash);

    ngx_shmtx_lock(&shpool->mutex);

    n = ngx_http_iot_streams_sum(shpool, &sh->tree[NGX_HTTP_IOT_STREAMS_TOKENS],
                                 tid, &tmine);

    if (n >= mcf->per_token) {
        ngx_shmtx_unlock(&shpool->mutex);

        *status = NGX_HTTP_TOO_MANY_REQUESTS;
        ngx_http_iot_streams_refused(NGX_IOT_WS_REFUSED_TOKEN);
        (void) ngx_sprintf(p, "the API token has %ui streams open, the most "
                           "it may have%Z", n);
        return NGX_DECLINED;
    }

    n = ngx_http_iot_streams_sum(shpool,
                                 &sh->tree[NGX_HTTP_IOT_STREAMS_COLLECTIONS],
                                 cid, &cmine);

    if (n >= mcf->per_collection) {
        ngx_shmtx_unlock(&shpool->mutex);

        *status = NGX_HTTP_TOO_MANY_REQUESTS;
        ngx_http_iot_streams_refused(NGX_IOT_WS_REFUSED_COLLECTION);
        (void) ngx_sprintf(p, "the collection has %ui streams open, the "
                           "most it may have%Z", n);
        return NGX_DECLINED;
    }

    if (ngx_http_iot_streams_add(shpool,
                                 &sh->tree[NGX_HTTP_IOT_STREAMS_TOKENS],
                                 tid, tmine)
        != NGX_OK)
    {
        goto full;
    }

    if (ngx_http_iot_streams_add(shpool,
                                 &sh->tree[NGX_HTTP_IOT_STREAMS_COLLECTIONS],
                                 cid, cmine)
        != NGX_OK)
    {
        ngx_http_iot_streams_sub(shpool,
                                 &sh->tree[NGX_HTTP_IOT_STREAMS_TOKENS], tid);
        goto full;
    }

    ngx_shmtx_unlock(&shpool->mutex);

    ngx_http_iot_streams_here++;
    ngx_iot_metrics_worker(NGX_IOT_WORKER_STREAMS, ngx_http_iot_streams_here);
    ngx_iot_metrics_count(
        ngx_iot_zone_ctx((ngx_cycle_t *) ngx_cycle)->sh->metrics.ws_opened);

    return NGX_OK;

full:

    ngx_shmtx_unlock(&shpool->mutex);

    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "WebSocket stream refused: the shared zone \"%V\" is "
                  "full", &ngx_http_iot_streams_zone_name);

    ngx_http_iot_streams_refused(NGX_IOT_WS_REFUSED_ZONE);

    (void) ngx_sprintf(p, "this server has as many streams open as it may, "
                       "try again later%Z");
    return NGX_DECLINED;
}


void
ngx_http_iot_streams_uncount(u_char *hash, uint64_t cid)
{
    ngx_slab_pool_t            *shpool;
    ngx_http_iot_streams_sh_t  *sh;

    if (ngx_http_iot_streams_here) {
        ngx_http_iot_streams_here--;
    }

    ngx_iot_metrics_worker(NGX_IOT_WORKER_STREAMS, ngx_http_iot_streams_here);

    sh = ngx_http_iot_streams_sh(&shpool);
    if (sh == NULL) {
        return;
    }

    ngx_shmtx_lock(&shpool->mutex);

    ngx_http_iot_streams_sub(shpool, &sh->tree[NGX_HTTP_IOT_STREAMS_TOKENS],
                             ngx_http_iot_streams_token_id(hash));
    ngx_http_iot_streams_sub(shpool,
                             &sh->tree[NGX_HTTP_IOT_STREAMS_COLLECTIONS], cid);

    ngx_shmtx_unlock(&shpool->mutex);
}


/*
 * The streams of id in all workers, under the zone's mutex; the nodes of
 * workers that are gone are dropped, this worker's node is *mine (NULL
 * if it has none).  The nodes of one id lie side by side in the tree.
 */

static ngx_uint_t
ngx_http_iot_streams_sum(ngx_slab_pool_t *shpool, ngx_rbtree_t *tree,
    uint64_t id, ngx_http_iot_streams_node_t **mine)
{
    ngx_uint_t                    n;
    ngx_rbtree_key_t              key;
    ngx_rbtree_node_t            *node, *first, *next, *sentinel;
    ngx_http_iot_streams_node_t  *sn;

    *mine = NULL;

    key = (ngx_rbtree_key_t) id;
    node = tree->root;
    sentinel = tree->sentinel;
    first = NULL;

    while (node != sentinel) {
        if (key <= node->key) {
            if (key == node->key) {
                first = node;
            }

            node = node->left;

        } else {
            node = node->right;
        }
    }

    n = 0;

    for (node = first; node && node->key == key; node = next) {
        next = ngx_rbtree_next(tree, node);
        sn = (ngx_http_iot_streams_node_t *) node;

        if (sn->id != id) {
            continue;
        }

        if (sn->pid == ngx_pid) {
            *mine = sn;

        } else if (kill(sn->pid, 0) == -1 && ngx_errno == NGX_ESRCH) {
            /* killed with its streams open */
            ngx_rbtree_delete(tree, node);
            ngx_slab_free_locked(shpool, sn);
            continue;
        }

        n += sn->count;
    }

    return n;
}


static ngx_int_t
ngx_http_iot_streams_add(ngx_slab_pool_t *shpool, ngx_rbtree_t *tree,
    uint64_t id, ngx_http_iot_streams_node_t *mine)
{
    if (mine) {
        mine->count++;
        return NGX_OK;
    }

    mine = ngx_slab_alloc_locked(shpool, sizeof(ngx_http_iot_streams_node_t));
    if (mine == NULL) {
        return NGX_ERROR;
    }

    mine->node.key = (ngx_rbtree_key_t) id;
    mine->id = id;
    mine->pid = ngx_pid;
    mine->count = 1;

    ngx_rbtree_insert(tree, &mine->node);

    return NGX_OK;
}


static void
ngx_http_iot_streams_sub(ngx_slab_pool_t *shpool, ngx_rbtree_t *tree,
    uint64_t id)
{
    ngx_http_iot_streams_node_t  *mine;

    (void) ngx_http_iot_streams_sum(shpool, tree, id, &mine);

    if (mine == NULL) {
        return;
    }

    if (--mine->count == 0) {
        ngx_rbtree_delete(tree, &mine->node);
        ngx_slab_free_locked(shpool, mine);
    }
}


/* 64 bits of a token's SHA-256 tell tokens apart */

static uint64_t
ngx_http_iot_streams_token_id(u_char *hash)
{
    uint64_t  id;

    ngx_memcpy(&id, hash, sizeof(uint64_t));

    return id;
}


/* a handshake refused for a limit, for the metrics */

static void
ngx_http_iot_streams_refused(ngx_iot_ws_refused_e why)
{
    ngx_iot_metrics_count(ngx_iot_zone_ctx((ngx_cycle_t *) ngx_cycle)
                          ->sh->metrics.ws_refused[why]);
}
