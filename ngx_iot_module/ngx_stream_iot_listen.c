
/*
 * Copyright (C) nginx-iot authors
 *
 * The stream servers behind the listening sockets.  A stream listening
 * socket's "servers" is an ngx_stream_port_t with one address
 * configuration per address; what that configuration holds changed in
 * nginx 1.25.5 (docs/building.md):
 *
 *   up to 1.25.4   the context of the one server on the address;
 *   since 1.25.5   the default server's core configuration and the
 *                  server names of the other (virtual) servers.
 *
 * This file is the only one that reads it.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_stream.h>
#include "ngx_stream_iot_listen.h"


static ngx_int_t ngx_stream_iot_listen_addr(ngx_stream_addr_conf_t *conf,
    ngx_stream_iot_listen_server_t *srv, ngx_stream_iot_listen_pt handler,
    void *data);

#if (nginx_version >= 1025005)
static ngx_int_t ngx_stream_iot_listen_names(ngx_hash_t *hash,
    ngx_uint_t wildcard, ngx_stream_iot_listen_server_t *srv,
    ngx_stream_iot_listen_pt handler, void *data);
static ngx_int_t ngx_stream_iot_listen_wildcard(ngx_hash_wildcard_t *hwc,
    ngx_stream_iot_listen_server_t *srv, ngx_stream_iot_listen_pt handler,
    void *data);
#endif


/*
 * Calls the handler for every server behind every address of the
 * cycle's stream listening sockets (as made at the end of the stream
 * block, so from the core modules' init_conf on).  A server may come
 * more than once, by the names it has on an address.
 */

ngx_int_t
ngx_stream_iot_listen_walk(ngx_cycle_t *cycle,
    ngx_stream_iot_listen_pt handler, void *data)
{
    ngx_int_t                        rc;
    ngx_uint_t                       i, n;
    ngx_sockaddr_t                   sa;
    ngx_listening_t                 *ls;
    ngx_stream_port_t               *port;
    ngx_stream_in_addr_t            *addr;
    ngx_stream_addr_conf_t          *conf;
#if (NGX_HAVE_INET6)
    ngx_stream_in6_addr_t           *addr6;
#endif
    ngx_stream_iot_listen_server_t   srv;

    ls = cycle->listening.elts;

    for (i = 0; i < cycle->listening.nelts; i++) {

        if (ls[i].handler != ngx_stream_init_connection
            || ls[i].servers == NULL
            || ls[i].socklen > (socklen_t) sizeof(ngx_sockaddr_t))
        {
            continue;
        }

        port = ls[i].servers;

        for (n = 0; n < port->naddrs; n++) {

            /* the socket's address, but for the address itself */

            ngx_memcpy(&sa, ls[i].sockaddr, ls[i].socklen);

            switch (ls[i].sockaddr->sa_family) {

#if (NGX_HAVE_INET6)
            case AF_INET6:
                addr6 = port->addrs;
                sa.sockaddr_in6.sin6_addr = addr6[n].addr6;
                conf = &addr6[n].conf;
                break;
#endif

            case AF_INET:
                addr = port->addrs;
                sa.sockaddr_in.sin_addr.s_addr = addr[n].addr;
                conf = &addr[n].conf;
                break;

            default: /* AF_UNIX: one address, the socket's */
                addr = port->addrs;
                conf = &addr[n].conf;
                break;
            }

            srv.listening = &ls[i];
            srv.sockaddr = &sa.sockaddr;
            srv.socklen = ls[i].socklen;

            rc = ngx_stream_iot_listen_addr(conf, &srv, handler, data);

            if (rc != NGX_OK) {
                return rc;
            }
        }
    }

    return NGX_OK;
}


/* the servers of one address */

static ngx_int_t
ngx_stream_iot_listen_addr(ngx_stream_addr_conf_t *conf,
    ngx_stream_iot_listen_server_t *srv, ngx_stream_iot_listen_pt handler,
    void *data)
{
#if (nginx_version >= 1025005)

    ngx_int_t                    rc;
    ngx_hash_combined_t         *names;
#if (NGX_PCRE)
    ngx_uint_t                   i;
    ngx_stream_server_name_t    *regex;
#endif

    srv->server = conf->default_server;
    srv->default_server = 1;

    rc = handler(srv, data);

    if (rc != NGX_OK || conf->virtual_names == NULL) {
        return rc;
    }

    /* the servers a server name (TLS SNI) leads to */

    srv->default_server = 0;

    names = &conf->virtual_names->names;

    rc = ngx_stream_iot_listen_names(&names->hash, 0, srv, handler, data);

    if (rc == NGX_OK && names->wc_head) {
        rc = ngx_stream_iot_listen_wildcard(names->wc_head, srv, handler,
                                            data);
    }

    if (rc == NGX_OK && names->wc_tail) {
        rc = ngx_stream_iot_listen_wildcard(names->wc_tail, srv, handler,
                                            data);
    }

#if (NGX_PCRE)
    regex = conf->virtual_names->regex;

    for (i = 0; rc == NGX_OK && i < conf->virtual_names->nregex; i++) {
        srv->server = regex[i].server;
        rc = handler(srv, data);
    }
#endif

    return rc;

#else

    srv->server = conf->ctx->srv_conf[ngx_stream_core_module.ctx_index];
    srv->default_server = 1;

    return handler(srv, data);

#endif
}


#if (nginx_version >= 1025005)

/*
 * The values of a names hash, as ngx_hash_find() and
 * ngx_hash_find_wc_head() read them: in a wildcard hash the two low bits
 * of a value tell whether it is a server (0x) or a further wildcard hash
 * (1x).
 */

static ngx_int_t
ngx_stream_iot_listen_names(ngx_hash_t *hash, ngx_uint_t wildcard,
    ngx_stream_iot_listen_server_t *srv, ngx_stream_iot_listen_pt handler,
    void *data)
{
    void            *value;
    ngx_int_t        rc;
    ngx_uint_t       i;
    ngx_hash_elt_t  *elt;

    for (i = 0; i < hash->size; i++) {

        for (elt = hash->buckets[i];
             elt != NULL && elt->value != NULL;
             elt = (ngx_hash_elt_t *) ngx_align_ptr(&elt->name[0] + elt->len,
                                                    sizeof(void *)))
        {
            value = elt->value;

            if (wildcard && ((uintptr_t) value & 2)) {
                rc = ngx_stream_iot_listen_wildcard((ngx_hash_wildcard_t *)
                                         ((uintptr_t) value & (uintptr_t) ~3),
                                         srv, handler, data);

            } else {
                if (wildcard) {
                    value = (void *) ((uintptr_t) value & (uintptr_t) ~3);
                }

                srv->server = value;
                rc = handler(srv, data);
            }

            if (rc != NGX_OK) {
                return rc;
            }
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_stream_iot_listen_wildcard(ngx_hash_wildcard_t *hwc,
    ngx_stream_iot_listen_server_t *srv, ngx_stream_iot_listen_pt handler,
    void *data)
{
    ngx_int_t  rc;

    if (hwc->value) {
        srv->server = hwc->value;

        rc = handler(srv, data);

        if (rc != NGX_OK) {
            return rc;
        }
    }

    return ngx_stream_iot_listen_names(&hwc->hash, 1, srv, handler, data);
}

#endif
