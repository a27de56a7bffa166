
/*
 * Copyright (C) nginx-iot authors
 *
 * The message bus between workers.  Messages go into a ring in the shared
 * zone, numbered in the order they were published.  Each worker reads the
 * ring from where it left off and hands the messages to its own
 * subscribers, so every subscriber sees every message once, in order.
 *
 * A record holds the message itself, not a rendering of it.  Delivering a
 * message, a worker asks each renderer its subscribers name (one per
 * dialect) once, and hands the same text to all the subscribers that
 * name it; the text goes with the message.
 *
 * A worker that publishes wakes the others with a one-byte datagram on a
 * per-worker socket in the abstract namespace ("nginx-iot-bus-<pid>"); a
 * flag in the zone keeps it to one datagram until the worker has read.
 * A worker that falls a whole ring behind is not waited for: its
 * subscribers are told that messages were lost.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <sys/un.h>
#include "ngx_iot.h"
#include "ngx_iot_bus.h"
#include "ngx_iot_zone.h"


#define NGX_IOT_BUS_PEERS     64
#define NGX_IOT_BUS_MIN       (32 * 1024)
#define NGX_IOT_BUS_MAX       (64 * 1024 * 1024)
#define NGX_IOT_BUS_NAME      "nginx-iot-bus-%P"

/* renderers (dialects) of one message kept apart; more are not cached */
#define NGX_IOT_BUS_RENDERERS  8


/* a message: this, then its CoAP method, CoAP path and payload */
typedef struct {
    uint64_t                   seq;
    uint32_t                   size;      /* of the record; 0: wrap */
    uint32_t                   transport;
    uint64_t                   id;
    uint64_t                   collection_id;
    uint64_t                   device_id;
    uint64_t                   received;
    uint32_t                   local_port;
    uint32_t                   remote_port;
    uint32_t                   method_len;
    uint32_t                   path_len;
    uint32_t                   payload_len;
    uint32_t                   kind;
    uint32_t                   state;
    uint32_t                   reason;
    uint64_t                   created;
} ngx_iot_bus_rec_t;


/* a message as rendered for the subscribers of one renderer */
typedef struct {
    ngx_iot_render_pt          render;
    ngx_str_t                  text;
    ngx_int_t                  rc;
} ngx_iot_bus_rendered_t;


typedef struct {
    ngx_pid_t                  pid;
    ngx_atomic_t               woken;
} ngx_iot_bus_peer_t;


/* in the zone; positions only grow, the ring offset is pos % size */
struct ngx_iot_bus_s {
    ngx_shmtx_sh_t             lock;
    ngx_shmtx_t                mutex;
    u_char                    *start;
    uint64_t                   size;
    uint64_t                   head;      /* where the next record goes */
    uint64_t                   tail;      /* the oldest record */
    uint64_t                   next_seq;
    uint64_t                   tail_seq;
    ngx_atomic_t               revision;  /* ngx_iot_bus_revise() */
    ngx_iot_bus_peer_t         peers[NGX_IOT_BUS_PEERS];
};


/* a collection's subscribers in this worker */
typedef struct {
    ngx_rbtree_node_t          node;      /* key: collection id */
    ngx_queue_t                subscribers;
} ngx_iot_bus_topic_t;


/* this worker's side of the bus */
struct ngx_iot_bus_local_s {
    ngx_iot_bus_t             *bus;
    uint64_t                   pos;
    uint64_t                   seq;
    ngx_connection_t          *wake;
    ngx_iot_bus_peer_t        *me;
    ngx_rbtree_t               topics;
    ngx_rbtree_node_t          sentinel;
    ngx_uint_t                 nsubscribers;
    u_char                    *buf;
    size_t                     buf_size;
    ngx_pool_t                *pool;      /* renderings of one message */
    ngx_log_t                 *log;
    ngx_atomic_uint_t          revision;  /* the last one handled */
};


static ngx_iot_bus_revised_pt  ngx_iot_bus_revised;


static ngx_iot_bus_local_t *ngx_iot_bus_local(void);
static void ngx_iot_bus_wake_handler(ngx_event_t *ev);
static void ngx_iot_bus_wake_others(ngx_iot_bus_local_t *bl);
static void ngx_iot_bus_read(ngx_iot_bus_local_t *bl);
static void ngx_iot_bus_deliver(ngx_iot_bus_local_t *bl,
    ngx_iot_message_t *m, uint64_t seq);
static void ngx_iot_bus_lost(ngx_iot_bus_local_t *bl);
static ngx_iot_bus_topic_t *ngx_iot_bus_topic(ngx_iot_bus_local_t *bl,
    uint64_t cid);
static socklen_t ngx_iot_bus_addr(struct sockaddr_un *sa, ngx_pid_t pid);


#define ngx_iot_bus_align(n)  (((n) + 7) & ~((uint64_t) 7))


ngx_int_t
ngx_iot_bus_init_zone(ngx_slab_pool_t *shpool, ngx_iot_sh_t *sh,
    size_t size)
{
    ngx_iot_bus_t  *bus;

    if (size == 0) {
        size = (shpool->end - (u_char *) shpool) / 8;
    }

    size = ngx_max(size, NGX_IOT_BUS_MIN);
    size = ngx_min(size, NGX_IOT_BUS_MAX);
    size = ngx_align(size, ngx_pagesize);

    bus = ngx_slab_calloc(shpool, sizeof(ngx_iot_bus_t));
    if (bus == NULL) {
        return NGX_ERROR;
    }

    bus->start = ngx_slab_alloc(shpool, size);
    if (bus->start == NULL) {
        return NGX_ERROR;
    }

    bus->size = size;

    if (ngx_shmtx_create(&bus->mutex, &bus->lock, NULL) != NGX_OK) {
        return NGX_ERROR;
    }

    sh->bus = bus;

    return NGX_OK;
}


static socklen_t
ngx_iot_bus_addr(struct sockaddr_un *sa, ngx_pid_t pid)
{
    u_char  *p;

    ngx_memzero(sa, sizeof(struct sockaddr_un));
    sa->sun_family = AF_UNIX;

    /* the abstract namespace: sun_path starts with a NUL */
    p = ngx_snprintf((u_char *) sa->sun_path + 1,
                     sizeof(sa->sun_path) - 1, NGX_IOT_BUS_NAME, pid);

    return offsetof(struct sockaddr_un, sun_path)
           + (p - (u_char *) sa->sun_path);
}


/* in each worker: a socket to be woken on, and a place among the peers */

ngx_int_t
ngx_iot_bus_init_process(ngx_cycle_t *cycle, ngx_iot_sh_t *sh,
    ngx_iot_bus_local_t **out)
{
    int                   s;
    ngx_uint_t            i;
    socklen_t             len;
    ngx_event_t          *rev;
    ngx_iot_bus_t        *bus;
    ngx_connection_t     *c;
    struct sockaddr_un    sa;
    ngx_iot_bus_peer_t   *peer;
    ngx_iot_bus_local_t  *bl;

    bus = sh->bus;

    bl = ngx_pcalloc(cycle->pool, sizeof(ngx_iot_bus_local_t));
    if (bl == NULL) {
        return NGX_ERROR;
    }

    bl->bus = bus;
    bl->log = cycle->log;

    bl->pool = ngx_create_pool(4096, cycle->log);
    if (bl->pool == NULL) {
        return NGX_ERROR;
    }

    ngx_rbtree_init(&bl->topics, &bl->sentinel, ngx_rbtree_insert_value);

    s = socket(AF_UNIX, SOCK_DGRAM, 0);
    if (s == -1) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, ngx_socket_errno,
                      "iot bus: socket() failed");
        return NGX_ERROR;
    }

    len = ngx_iot_bus_addr(&sa, ngx_pid);

    if (bind(s, (struct sockaddr *) &sa, len) == -1
        || ngx_nonblocking(s) == -1)
    {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, ngx_socket_errno,
                      "iot bus: bind() or ioctl() failed");
        (void) close(s);
        return NGX_ERROR;
    }

    c = ngx_get_connection(s, cycle->log);
    if (c == NULL) {
        (void) close(s);
        return NGX_ERROR;
    }

    c->data = bl;
    rev = c->read;
    rev->handler = ngx_iot_bus_wake_handler;
    rev->log = cycle->log;

    if (ngx_add_event(rev, NGX_READ_EVENT, 0) != NGX_OK) {
        ngx_close_connection(c);
        return NGX_ERROR;
    }

    bl->wake = c;

    ngx_iot_shmtx_lock(&bus->mutex);

    peer = NULL;

    for (i = 0; i < NGX_IOT_BUS_PEERS; i++) {
        if (bus->peers[i].pid == 0
            || (kill(bus->peers[i].pid, 0) == -1 && ngx_errno == NGX_ESRCH))
        {
            peer = &bus->peers[i];
            break;
        }
    }

    if (peer) {
        peer->pid = ngx_pid;
        peer->woken = 0;
    }

    /* a new worker starts with what is published from now on */
    bl->pos = bus->head;
    bl->seq = bus->next_seq;
    bl->revision = bus->revision;

    ngx_shmtx_unlock(&bus->mutex);

    if (peer == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "iot bus: more than %d workers", NGX_IOT_BUS_PEERS);
        return NGX_ERROR;
    }

    bl->me = peer;
    *out = bl;

    return NGX_OK;
}


void
ngx_iot_bus_exit_process(ngx_iot_bus_local_t *bl)
{
    if (bl == NULL) {
        return;
    }

    if (bl->me) {
        (void) ngx_atomic_cmp_set((ngx_atomic_t *) &bl->me->pid, ngx_pid, 0);
        bl->me = NULL;
    }

    if (bl->wake) {
        ngx_close_connection(bl->wake);
        bl->wake = NULL;
    }

    if (bl->buf) {
        ngx_free(bl->buf);
        bl->buf = NULL;
    }

    if (bl->pool) {
        ngx_destroy_pool(bl->pool);
        bl->pool = NULL;
    }
}


ngx_int_t
ngx_iot_bus_publish(ngx_iot_bus_local_t *bl, ngx_iot_message_t *m)
{
    u_char             *p;
    size_t              len;
    uint64_t            need, off, end;
    ngx_iot_bus_t      *bus;
    ngx_iot_bus_rec_t  *rec;

    bus = bl->bus;

    len = m->coap_method.len + m->coap_path.len + m->payload.len;
    need = ngx_iot_bus_align(sizeof(ngx_iot_bus_rec_t) + len);

    /* the ring's size never changes: no lock for this */

    if (need > bus->size / 4) {
        ngx_log_error(NGX_LOG_ERR, bl->log, 0,
                      "iot bus: a message of %uz bytes is too large for "
                      "the live streams; make iot_bus_size larger than "
                      "%uL", len, need * 4);
        return NGX_DECLINED;
    }

    ngx_iot_shmtx_lock(&bus->mutex);

    off = bus->head % bus->size;

    if (off + need > bus->size) {
        /* a record never wraps: mark the rest of the ring as skipped */

        if (bus->size - off >= sizeof(ngx_iot_bus_rec_t)) {
            rec = (ngx_iot_bus_rec_t *) (bus->start + off);
            rec->size = 0;
        }

        bus->head += bus->size - off;
    }

    end = bus->head + need;

    /* make room: the oldest records go, whoever has not read them yet */

    while (end - bus->tail > bus->size) {
        off = bus->tail % bus->size;
        rec = (ngx_iot_bus_rec_t *) (bus->start + off);

        if (bus->size - off < sizeof(ngx_iot_bus_rec_t) || rec->size == 0) {
            bus->tail += bus->size - off;
            continue;
        }

        bus->tail += rec->size;
        bus->tail_seq++;
    }

    rec = (ngx_iot_bus_rec_t *) (bus->start + bus->head % bus->size);

    rec->seq = bus->next_seq;
    rec->size = (uint32_t) need;
    rec->transport = (uint32_t) m->transport;
    rec->id = m->id;
    rec->collection_id = m->collection_id;
    rec->device_id = m->device_id;
    rec->received = m->received;
    rec->local_port = (uint32_t) m->local_port;
    rec->remote_port = (uint32_t) m->remote_port;
    rec->method_len = (uint32_t) m->coap_method.len;
    rec->path_len = (uint32_t) m->coap_path.len;
    rec->payload_len = (uint32_t) m->payload.len;
    rec->kind = (uint32_t) m->kind;
    rec->state = (uint32_t) m->state;
    rec->reason = (uint32_t) m->reason;
    rec->created = m->created;

    p = (u_char *) rec + sizeof(ngx_iot_bus_rec_t);
    p = ngx_cpymem(p, m->coap_method.data, m->coap_method.len);
    p = ngx_cpymem(p, m->coap_path.data, m->coap_path.len);
    ngx_memcpy(p, m->payload.data, m->payload.len);

    bus->head = end;
    bus->next_seq++;

    ngx_shmtx_unlock(&bus->mutex);

    ngx_iot_bus_wake_others(bl);

    /* this worker's own subscribers, in the same order as everyone's */
    ngx_iot_bus_read(bl);

    return NGX_OK;
}


static void
ngx_iot_bus_wake_others(ngx_iot_bus_local_t *bl)
{
    ssize_t              n;
    ngx_pid_t            pid;
    ngx_uint_t           i;
    socklen_t            len;
    ngx_iot_bus_t       *bus;
    struct sockaddr_un   sa;
    ngx_iot_bus_peer_t  *peer;

    bus = bl->bus;

    for (i = 0; i < NGX_IOT_BUS_PEERS; i++) {
        peer = &bus->peers[i];
        pid = peer->pid;

        if (pid == 0 || pid == ngx_pid) {
            continue;
        }

        if (!ngx_atomic_cmp_set(&peer->woken, 0, 1)) {
            /* woken already and not yet read */
            continue;
        }

        len = ngx_iot_bus_addr(&sa, pid);

        n = sendto(bl->wake->fd, "w", 1, 0, (struct sockaddr *) &sa, len);

        if (n == -1) {
            if (ngx_socket_errno == ECONNREFUSED
                || ngx_socket_errno == ENOENT)
            {
                /* the worker is gone without saying so: killed */
                (void) ngx_atomic_cmp_set((ngx_atomic_t *) &peer->pid, pid,
                                          0);

            } else if (ngx_socket_errno != NGX_EAGAIN) {
                ngx_log_error(NGX_LOG_ALERT, bl->log, ngx_socket_errno,
                              "iot bus: sendto() failed");
            }

            /* its socket buffer is full: it will read everything anyway */
        }
    }
}


static void
ngx_iot_bus_wake_handler(ngx_event_t *ev)
{
    u_char                buf[64];
    ssize_t               n;
    ngx_connection_t     *c;
    ngx_iot_bus_local_t  *bl;

    c = ev->data;
    bl = c->data;

    for ( ;; ) {
        n = recv(c->fd, buf, sizeof(buf), 0);

        if (n == -1) {
            break;
        }
    }

    /* cleared before reading: a message published from now on wakes us */
    if (bl->me) {
        bl->me->woken = 0;
    }

    ngx_iot_bus_read(bl);

    if (bl->revision != bl->bus->revision) {
        bl->revision = bl->bus->revision;

        if (ngx_iot_bus_revised) {
            ngx_iot_bus_revised();
        }
    }
}


void
ngx_iot_bus_revise(void)
{
    ngx_iot_bus_local_t  *bl;

    bl = ngx_iot_bus_local();
    if (bl == NULL) {
        return;
    }

    /* before the wake-up, which then finds it */
    bl->revision = ngx_atomic_fetch_add(&bl->bus->revision, 1) + 1;

    ngx_iot_bus_wake_others(bl);

    if (ngx_iot_bus_revised) {
        ngx_iot_bus_revised();
    }
}


void
ngx_iot_bus_on_revise(ngx_iot_bus_revised_pt handler)
{
    ngx_iot_bus_revised = handler;
}


/* copies what this worker has not seen out of the ring, then delivers it */

static void
ngx_iot_bus_read(ngx_iot_bus_local_t *bl)
{
    u_char             *p, *last, *tmp, *data;
    size_t              copied, need;
    uint64_t            off;
    ngx_uint_t          lost;
    ngx_iot_message_t   m;
    ngx_iot_bus_t      *bus;
    ngx_iot_bus_rec_t  *rec, *r;

    bus = bl->bus;

    for ( ;; ) {
        copied = 0;
        lost = 0;

        ngx_iot_shmtx_lock(&bus->mutex);

        if (bl->seq < bus->tail_seq) {
            lost = 1;
            bl->seq = bus->tail_seq;
            bl->pos = bus->tail;
        }

        while (bl->seq < bus->next_seq) {
            off = bl->pos % bus->size;
            rec = (ngx_iot_bus_rec_t *) (bus->start + off);

            if (bus->size - off < sizeof(ngx_iot_bus_rec_t)
                || rec->size == 0)
            {
                bl->pos += bus->size - off;
                continue;
            }

            need = copied + rec->size;

            if (need > bl->buf_size) {
                if (copied) {
                    /* deliver what we have; the rest on the next round */
                    break;
                }

                tmp = ngx_alloc(ngx_max(need, 65536), bl->log);
                if (tmp == NULL) {
                    break;
                }

                if (bl->buf) {
                    ngx_free(bl->buf);
                }

                bl->buf = tmp;
                bl->buf_size = ngx_max(need, 65536);
            }

            ngx_memcpy(bl->buf + copied, rec, rec->size);
            copied += rec->size;

            bl->pos += rec->size;
            bl->seq++;
        }

        ngx_shmtx_unlock(&bus->mutex);

        if (lost) {
            ngx_iot_bus_lost(bl);
        }

        if (copied == 0) {
            return;
        }

        p = bl->buf;
        last = bl->buf + copied;

        while (p < last) {
            r = (ngx_iot_bus_rec_t *) p;

            m.id = r->id;
            m.device_id = r->device_id;
            m.collection_id = r->collection_id;
            m.received = r->received;
            m.transport = r->transport;
            m.local_port = r->local_port;
            m.remote_port = r->remote_port;
            m.kind = r->kind;
            m.state = r->state;
            m.reason = r->reason;
            m.created = r->created;

            data = p + sizeof(ngx_iot_bus_rec_t);

            m.coap_method.data = data;
            m.coap_method.len = r->method_len;
            data += r->method_len;

            m.coap_path.data = data;
            m.coap_path.len = r->path_len;
            data += r->path_len;

            m.payload.data = data;
            m.payload.len = r->payload_len;

            ngx_iot_bus_deliver(bl, &m, r->seq);

            p += r->size;
        }
    }
}


/*
 * Hands one message to this worker's subscribers of its collection, each
 * renderer asked once: its text (or its failure) is kept for the others
 * that name it, and goes with the message.
 */

static void
ngx_iot_bus_deliver(ngx_iot_bus_local_t *bl, ngx_iot_message_t *m,
    uint64_t seq)
{
    ngx_uint_t               i, n;
    ngx_queue_t             *q, *next;
    ngx_iot_render_pt        render;
    ngx_iot_bus_topic_t     *topic;
    ngx_iot_subscriber_t    *s;
    ngx_iot_bus_rendered_t  *one, extra;
    ngx_iot_bus_rendered_t   done[NGX_IOT_BUS_RENDERERS];

    topic = ngx_iot_bus_topic(bl, m->collection_id);
    if (topic == NULL) {
        return;
    }

    n = 0;

    for (q = ngx_queue_head(&topic->subscribers);
         q != ngx_queue_sentinel(&topic->subscribers);
         q = next)
    {
        /* a subscriber may leave while it is handed a message */
        next = ngx_queue_next(q);

        s = ngx_queue_data(q, ngx_iot_subscriber_t, queue);

        if (s->device_id != 0 && s->device_id != m->device_id) {
            continue;
        }

        render = (m->kind == NGX_IOT_MESSAGE_DOWNLINK) ? s->render_downlink
                                                       : s->render;
        if (render == NULL) {
            continue;
        }

        for (i = 0; i < n; i++) {
            if (done[i].render == render) {
                break;
            }
        }

        if (i < n) {
            one = &done[i];

        } else {
            one = (n < NGX_IOT_BUS_RENDERERS) ? &done[n++] : &extra;

            one->render = render;
            one->rc = render(m, bl->pool, &one->text);

            ngx_log_debug2(NGX_LOG_DEBUG_CORE, bl->log, 0,
                           "iot bus: message %uL of device %uL rendered",
                           seq, m->device_id);
        }

        if (one->rc == NGX_OK) {
            s->deliver(s, &one->text);
        }
    }

    if (n) {
        ngx_reset_pool(bl->pool);
    }
}


static void
ngx_iot_bus_lost(ngx_iot_bus_local_t *bl)
{
    ngx_uint_t              n, i;
    ngx_queue_t            *q;
    ngx_rbtree_node_t      *node, *root, *sentinel;
    ngx_iot_bus_topic_t    *topic;
    ngx_iot_subscriber_t  **all;

    ngx_log_error(NGX_LOG_WARN, bl->log, 0,
                  "iot bus: this worker fell behind the ring, messages "
                  "were lost for its subscribers; make iot_bus_size larger");

    root = bl->topics.root;
    sentinel = bl->topics.sentinel;

    if (root == sentinel || bl->nsubscribers == 0) {
        return;
    }

    /* told one by one, they leave: collect them first */

    all = ngx_alloc(bl->nsubscribers * sizeof(ngx_iot_subscriber_t *),
                    bl->log);
    if (all == NULL) {
        return;
    }

    n = 0;

    for (node = ngx_rbtree_min(root, sentinel);
         node;
         node = ngx_rbtree_next(&bl->topics, node))
    {
        topic = (ngx_iot_bus_topic_t *) node;

        for (q = ngx_queue_head(&topic->subscribers);
             q != ngx_queue_sentinel(&topic->subscribers)
             && n < bl->nsubscribers;
             q = ngx_queue_next(q))
        {
            all[n++] = ngx_queue_data(q, ngx_iot_subscriber_t, queue);
        }
    }

    for (i = 0; i < n; i++) {
        all[i]->lost(all[i]);
    }

    ngx_free(all);
}


static ngx_iot_bus_topic_t *
ngx_iot_bus_topic(ngx_iot_bus_local_t *bl, uint64_t cid)
{
    ngx_rbtree_node_t  *node, *sentinel;

    node = bl->topics.root;
    sentinel = bl->topics.sentinel;

    while (node != sentinel) {
        if (cid < node->key) {
            node = node->left;
            continue;
        }

        if (cid > node->key) {
            node = node->right;
            continue;
        }

        return (ngx_iot_bus_topic_t *) node;
    }

    return NULL;
}


static ngx_iot_bus_local_t *
ngx_iot_bus_local(void)
{
    ngx_iot_conf_t  *icf;

    icf = ngx_iot_get_conf((ngx_cycle_t *) ngx_cycle);

    return icf ? icf->bus : NULL;
}


void
ngx_iot_bus_subscribe(ngx_iot_subscriber_t *s)
{
    ngx_iot_bus_local_t  *bl;
    ngx_iot_bus_topic_t  *topic;

    bl = ngx_iot_bus_local();

    ngx_queue_init(&s->queue);

    if (bl == NULL) {
        return;
    }

    topic = ngx_iot_bus_topic(bl, s->collection_id);

    if (topic == NULL) {
        topic = ngx_alloc(sizeof(ngx_iot_bus_topic_t), bl->log);
        if (topic == NULL) {
            return;
        }

        topic->node.key = s->collection_id;
        ngx_queue_init(&topic->subscribers);
        ngx_rbtree_insert(&bl->topics, &topic->node);
    }

    ngx_queue_insert_tail(&topic->subscribers, &s->queue);
    bl->nsubscribers++;
}


void
ngx_iot_bus_unsubscribe(ngx_iot_subscriber_t *s)
{
    ngx_iot_bus_local_t  *bl;
    ngx_iot_bus_topic_t  *topic;

    if (ngx_queue_empty(&s->queue)) {
        /* never subscribed, or left already */
        return;
    }

    ngx_queue_remove(&s->queue);
    ngx_queue_init(&s->queue);

    bl = ngx_iot_bus_local();
    if (bl == NULL) {
        return;
    }

    bl->nsubscribers--;

    topic = ngx_iot_bus_topic(bl, s->collection_id);

    if (topic && ngx_queue_empty(&topic->subscribers)) {
        ngx_rbtree_delete(&bl->topics, &topic->node);
        ngx_free(topic);
    }
}


/* for the metrics: the ring's size, the bytes it holds, messages so far */

void
ngx_iot_bus_usage(ngx_iot_bus_t *bus, uint64_t *size, uint64_t *used,
    uint64_t *published)
{
    ngx_iot_shmtx_lock(&bus->mutex);

    *size = bus->size;
    *used = bus->head - bus->tail;
    *published = bus->next_seq;

    ngx_shmtx_unlock(&bus->mutex);
}
