
/*
 * Copyright (C) nginx-iot authors
 *
 * "iot_metrics": a location that answers the module's metrics in the
 * Prometheus text format (ngx_iot_metrics.h), as nginx's own status
 * page answers with its connections.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_iot.h"


static ngx_int_t ngx_http_iot_metrics_handler(ngx_http_request_t *r);


char *
ngx_http_iot_metrics(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_iot_conf_t            *icf;
    ngx_http_core_loc_conf_t  *clcf;

    icf = (ngx_iot_conf_t *) ngx_get_conf(cf->cycle->conf_ctx,
                                          ngx_iot_module);

    if (icf->shm_zone == NULL) {
        return "needs \"iot_zone\", \"iot_store\" and "
               "\"iot_admin_token_file\" at the top level of the "
               "configuration, before the http block";
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->handler) {
        return "is duplicate, or the location has another handler";
    }

    clcf->handler = ngx_http_iot_metrics_handler;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_iot_metrics_handler(ngx_http_request_t *r)
{
    off_t         len;
    ngx_int_t     rc;
    ngx_chain_t  *out, *cl;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    out = ngx_iot_metrics_text((ngx_cycle_t *) ngx_cycle, r->pool);
    if (out == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    len = 0;

    for (cl = out; cl; cl = cl->next) {
        len += cl->buf->last - cl->buf->pos;
    }

    /* the exposition format's own content type (version 0.0.4) */

    ngx_str_set(&r->headers_out.content_type,
                "text/plain; version=0.0.4; charset=utf-8");
    r->headers_out.content_type_len = sizeof("text/plain") - 1;
    r->headers_out.content_type_lowcase = NULL;
    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = len;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    return ngx_http_output_filter(r, out);
}
