
/*
 * Copyright (C) nginx-iot authors
 *
 * The stream servers behind the listening sockets: the one place that
 * knows how the stream core keeps them (it changed in nginx 1.25.5).
 */


#ifndef _NGX_STREAM_IOT_LISTEN_H_INCLUDED_
#define _NGX_STREAM_IOT_LISTEN_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_stream.h>


/* one server behind one address of a stream listening socket */
typedef struct {
    ngx_listening_t               *listening;

    /* the address with the socket's port; valid during the call only */
    struct sockaddr               *sockaddr;
    socklen_t                      socklen;

    ngx_stream_core_srv_conf_t    *server;

    /* the server a session on the address gets without a server name */
    unsigned                       default_server:1;
} ngx_stream_iot_listen_server_t;


/* NGX_OK to go on; anything else ends the walk and is its result */
typedef ngx_int_t (*ngx_stream_iot_listen_pt)(
    ngx_stream_iot_listen_server_t *srv, void *data);


ngx_int_t ngx_stream_iot_listen_walk(ngx_cycle_t *cycle,
    ngx_stream_iot_listen_pt handler, void *data);


#endif /* _NGX_STREAM_IOT_LISTEN_H_INCLUDED_ */
