
/*
 * Copyright (C) nginx-iot authors
 *
 * How many live streams there may be (ngx_http_iot_streams.c): per token
 * and per collection in all workers together, counted in a shared zone of
 * their own, and per worker, a share of worker_connections so that the
 * API keeps room.  A stream is counted from its handshake to its end.
 */


#ifndef _NGX_HTTP_IOT_STREAMS_H_INCLUDED_
#define _NGX_HTTP_IOT_STREAMS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_iot.h"


typedef struct {
    ngx_uint_t                 per_token;       /* iot_ws_streams_per_token */
    ngx_uint_t                 per_collection;  /* ..._per_collection */
    ngx_uint_t                 per_worker;      /* ..._per_worker, or */
    ngx_uint_t                 per_worker_pct;  /* % of worker_connections */
    ngx_shm_zone_t            *zone;
} ngx_http_iot_main_conf_t;


/* the directives' defaults and the zone, at the end of the http block */
char *ngx_http_iot_streams_init_conf(ngx_conf_t *cf,
    ngx_http_iot_main_conf_t *mcf);

/* "iot_ws_streams_per_worker number | percent%;" */
char *ngx_http_iot_streams_per_worker(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/*
 * Counts a new stream of the token with this hash on collection cid if
 * every limit allows it: NGX_OK; NGX_DECLINED, with the HTTP status (429,
 * 503) and a message for the refusal (in r's pool); NGX_ERROR.
 */
ngx_int_t ngx_http_iot_streams_count(ngx_http_request_t *r, u_char *hash,
    uint64_t cid, ngx_uint_t *status, const char **message);

/* the stream counted so has ended */
void ngx_http_iot_streams_uncount(u_char *hash, uint64_t cid);


#endif /* _NGX_HTTP_IOT_STREAMS_H_INCLUDED_ */
