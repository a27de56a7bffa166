
/*
 * Copyright (C) nginx-iot authors
 *
 * The UDP uplink: "iot_uplink" in a stream server that listens on UDP.
 * Each datagram from a device's current address (RADIUS accounting) is
 * a data message; datagrams from other addresses are dropped and counted.
 * Downlink datagrams leave from this listener's socket, so that devices
 * see them come from the port they send to.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_stream.h>
#include "ngx_iot.h"
#include "ngx_iot_downlink.h"
#include "ngx_iot_uplink.h"
#include "ngx_stream_iot_listen.h"


typedef struct {
    ngx_flag_t                 uplink;
} ngx_stream_iot_srv_conf_t;


static void *ngx_stream_iot_create_srv_conf(ngx_conf_t *cf);
static char *ngx_stream_iot_merge_srv_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_stream_iot_uplink(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static void ngx_stream_iot_uplink_handler(ngx_stream_session_t *s);
static ngx_int_t ngx_stream_iot_add_variables(ngx_conf_t *cf);
static ngx_int_t ngx_stream_iot_stats_variable(ngx_stream_session_t *s,
    ngx_stream_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_stream_iot_uplink_listener(
    ngx_stream_iot_listen_server_t *srv, void *data);
static ngx_int_t ngx_stream_iot_init(ngx_conf_t *cf);
static ngx_socket_t ngx_stream_iot_uplink_socket(ngx_cycle_t *cycle);
static ngx_iot_rc_e ngx_stream_iot_udp_send(ngx_cycle_t *cycle,
    ngx_iot_device_t *d, ngx_iot_downlink_t *m, ngx_log_t *log);
static ngx_iot_rc_e ngx_stream_iot_udp_ready(ngx_cycle_t *cycle);


/* the core's "udp" downlink transport */
static ngx_iot_downlink_sender_t  ngx_stream_iot_udp_sender = {
    ngx_stream_iot_udp_send,
    ngx_stream_iot_udp_ready
};


static ngx_command_t  ngx_stream_iot_commands[] = {

    { ngx_string("iot_uplink"),
      NGX_STREAM_SRV_CONF|NGX_CONF_NOARGS,
      ngx_stream_iot_uplink,
      NGX_STREAM_SRV_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_stream_module_t  ngx_stream_iot_module_ctx = {
    ngx_stream_iot_add_variables,          /* preconfiguration */
    ngx_stream_iot_init,                   /* postconfiguration */

    NULL,                                  /* create main configuration */
    NULL,                                  /* init main configuration */

    ngx_stream_iot_create_srv_conf,        /* create server configuration */
    ngx_stream_iot_merge_srv_conf          /* merge server configuration */
};


ngx_module_t  ngx_stream_iot_module = {
    NGX_MODULE_V1,
    &ngx_stream_iot_module_ctx,            /* module context */
    ngx_stream_iot_commands,               /* module directives */
    NGX_STREAM_MODULE,                     /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static void *
ngx_stream_iot_create_srv_conf(ngx_conf_t *cf)
{
    ngx_stream_iot_srv_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_stream_iot_srv_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    conf->uplink = NGX_CONF_UNSET;

    return conf;
}


static char *
ngx_stream_iot_merge_srv_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_stream_iot_srv_conf_t *prev = parent;
    ngx_stream_iot_srv_conf_t *conf = child;

    ngx_conf_merge_value(conf->uplink, prev->uplink, 0);

    return NGX_CONF_OK;
}


static char *
ngx_stream_iot_uplink(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_stream_iot_srv_conf_t *iscf = conf;

    ngx_iot_conf_t               *icf;
    ngx_stream_core_srv_conf_t   *cscf;

    if (iscf->uplink != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    icf = (ngx_iot_conf_t *) ngx_get_conf(cf->cycle->conf_ctx,
                                          ngx_iot_module);

    if (icf->shm_zone == NULL) {
        return "needs \"iot_zone\", \"iot_store\" and "
               "\"iot_admin_token_file\" at the top level of the "
               "configuration, before the stream block";
    }

    iscf->uplink = 1;

    cscf = ngx_stream_conf_get_module_srv_conf(cf, ngx_stream_core_module);
    cscf->handler = ngx_stream_iot_uplink_handler;

    return NGX_CONF_OK;
}


static void
ngx_stream_iot_uplink_handler(ngx_stream_session_t *s)
{
    ngx_buf_t              *b;
    ngx_iot_sh_t           *sh;
    ngx_iot_rc_e            rc;
    ngx_connection_t       *c;
    ngx_iot_message_t       m;

    c = s->connection;
    b = c->buffer;

    if (c->type != SOCK_DGRAM || b == NULL) {
        ngx_log_error(NGX_LOG_ERR, c->log, 0,
                      "iot_uplink needs a \"listen ... udp\" server");
        ngx_stream_finalize_session(s, NGX_STREAM_INTERNAL_SERVER_ERROR);
        return;
    }

    if (b->last - b->pos > NGX_IOT_PAYLOAD_MAX) {
        sh = ngx_iot_zone_ctx((ngx_cycle_t *) ngx_cycle)->sh;
        (void) ngx_atomic_fetch_add(&sh->large, 1);

        ngx_log_error(NGX_LOG_INFO, c->log, 0,
                      "iot uplink: a datagram of %z bytes dropped "
                      "(%d at most)", b->last - b->pos, NGX_IOT_PAYLOAD_MAX);
        ngx_stream_finalize_session(s, NGX_STREAM_OK);
        return;
    }

    ngx_memzero(&m, sizeof(ngx_iot_message_t));

    m.transport = NGX_IOT_TRANSPORT_UDP;
    m.payload.data = b->pos;
    m.payload.len = b->last - b->pos;
    m.remote_port = ngx_inet_get_port(c->sockaddr);
    m.local_port = ngx_inet_get_port(c->local_sockaddr);

    rc = ngx_iot_uplink_from((ngx_cycle_t *) ngx_cycle, c->sockaddr, &m,
                             c->pool, c->log);

    if (rc == NGX_IOT_NOT_FOUND) {
        ngx_log_debug1(NGX_LOG_DEBUG_STREAM, c->log, 0,
                       "iot uplink: no device has the address %V, dropped",
                       &c->addr_text);

    } else if (rc != NGX_IOT_OK) {
        ngx_log_error(NGX_LOG_ERR, c->log, 0,
                      "iot uplink: a message from %V was not recorded",
                      &c->addr_text);
    }

    /* one datagram, one message: the next one is a session of its own */
    ngx_stream_finalize_session(s, NGX_STREAM_OK);
}


static ngx_int_t
ngx_stream_iot_add_variables(ngx_conf_t *cf)
{
    ngx_stream_variable_t  *var;

    static ngx_str_t  name = ngx_string("iot_uplink_stats");

    var = ngx_stream_add_variable(cf, &name, NGX_STREAM_VAR_NOCACHEABLE);
    if (var == NULL) {
        return NGX_ERROR;
    }

    var->get_handler = ngx_stream_iot_stats_variable;

    return NGX_OK;
}


/* the uplink counters of every worker since the zone was made, as JSON */

static ngx_int_t
ngx_stream_iot_stats_variable(ngx_stream_session_t *s,
    ngx_stream_variable_value_t *v, uintptr_t data)
{
    u_char          *p;
    ngx_iot_sh_t    *sh;
    ngx_iot_conf_t  *icf;

    icf = ngx_iot_get_conf((ngx_cycle_t *) ngx_cycle);

    if (icf == NULL || icf->shm_zone == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    sh = ngx_iot_zone_ctx((ngx_cycle_t *) ngx_cycle)->sh;

    p = ngx_pnalloc(s->connection->pool, 6 * NGX_ATOMIC_T_LEN
                    + sizeof("{\"received\":,\"unknown\":,\"large\":,"
                             "\"unrecorded\":,\"refused\":,"
                             "\"malformed\":}"));
    if (p == NULL) {
        return NGX_ERROR;
    }

    v->data = p;
    v->len = ngx_sprintf(p, "{\"received\":%uA,\"unknown\":%uA,"
                         "\"large\":%uA,\"unrecorded\":%uA,"
                         "\"refused\":%uA,\"malformed\":%uA}",
                         sh->received, sh->unknown, sh->large,
                         sh->unrecorded, sh->refused, sh->malformed)
             - p;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}


static ngx_int_t
ngx_stream_iot_init(ngx_conf_t *cf)
{
    ngx_iot_downlink_register(cf->cycle, NGX_IOT_DOWNLINK_UDP,
                              &ngx_stream_iot_udp_sender);

    return NGX_OK;
}


/*
 * The socket of this worker's first IPv4 iot_uplink listener, for
 * downlink datagrams; -1 when there is none.
 */

static ngx_socket_t
ngx_stream_iot_uplink_socket(ngx_cycle_t *cycle)
{
    ngx_listening_t  *ls;

    ls = NULL;

    if (ngx_stream_iot_listen_walk(cycle, ngx_stream_iot_uplink_listener, &ls)
        != NGX_DONE)
    {
        return (ngx_socket_t) -1;
    }

    return ls->fd;
}


static ngx_iot_rc_e
ngx_stream_iot_udp_ready(ngx_cycle_t *cycle)
{
    return (ngx_stream_iot_uplink_socket(cycle) == (ngx_socket_t) -1)
           ? NGX_IOT_UNAVAILABLE : NGX_IOT_OK;
}


/* one datagram to the device's current address, from the uplink's port */

static ngx_iot_rc_e
ngx_stream_iot_udp_send(ngx_cycle_t *cycle, ngx_iot_device_t *d,
    ngx_iot_downlink_t *m, ngx_log_t *log)
{
    ssize_t             n;
    ngx_socket_t        fd;
    struct sockaddr_in  sin;

    fd = ngx_stream_iot_uplink_socket(cycle);

    if (fd == (ngx_socket_t) -1) {
        return NGX_IOT_UNAVAILABLE;
    }

    if (d->net_family != 4) {
        return NGX_IOT_NO_ADDRESS;
    }

    ngx_memzero(&sin, sizeof(struct sockaddr_in));
    sin.sin_family = AF_INET;
    sin.sin_port = htons((in_port_t) m->port);
    ngx_memcpy(&sin.sin_addr, d->net_addr, 4);

    n = sendto(fd, m->payload.data, m->payload.len, 0,
               (struct sockaddr *) &sin, sizeof(struct sockaddr_in));

    if (n != (ssize_t) m->payload.len) {
        ngx_log_error(NGX_LOG_ERR, log, ngx_socket_errno,
                      "iot downlink: sendto() failed");
        return NGX_IOT_SEND_FAILED;
    }

    return NGX_IOT_OK;
}


/*
 * NGX_DONE for an IPv4 UDP socket of this worker whose address has an
 * iot_uplink server as its default server: a datagram goes to the default
 * server of its address, as UDP has no server name to choose another by
 */

static ngx_int_t
ngx_stream_iot_uplink_listener(ngx_stream_iot_listen_server_t *srv,
    void *data)
{
    ngx_listening_t  **found = data;

    ngx_listening_t             *ls;
    ngx_stream_iot_srv_conf_t   *iscf;

    ls = srv->listening;

    if (!srv->default_server
        || ls->type != SOCK_DGRAM
        || ls->sockaddr->sa_family != AF_INET
        || ls->fd == (ngx_socket_t) -1
        || (ls->reuseport && ls->worker != ngx_worker))
    {
        return NGX_OK;
    }

    iscf = srv->server->ctx->srv_conf[ngx_stream_iot_module.ctx_index];

    if (iscf->uplink != 1) {
        return NGX_OK;
    }

    *found = ls;

    return NGX_DONE;
}
