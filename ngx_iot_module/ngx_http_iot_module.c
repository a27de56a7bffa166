
/*
 * Copyright (C) nginx-iot authors
 *
 * The HTTP module: the iot_api directive, and what every dialect needs from
 * HTTP (the path below the location, headers, JSON bodies and answers, in
 * the dialect's content type; nginx's own error pages in the dialect's
 * error format).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_iot.h"
#include "ngx_http_iot_dialect.h"
#include "ngx_http_iot_streams.h"
#include "ngx_http_iot_iotda.h"
#include "ngx_http_iot_collections.h"
#include "ngx_iot_outputs.h"
#include "ngx_iot_downlink.h"


static void *ngx_http_iot_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_iot_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_iot_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_iot_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_http_iot_dialect_t *ngx_http_iot_dialect(ngx_conf_t *cf,
    ngx_str_t *name);
static char *ngx_http_iot_api(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_iot_api_errors(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_iot_add_variables(ngx_conf_t *cf);
static ngx_int_t ngx_http_iot_init(ngx_conf_t *cf);
static void ngx_http_iot_exit_process(ngx_cycle_t *cycle);
static ngx_int_t ngx_http_iot_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_http_iot_allow_any(ngx_http_request_t *r);
static ngx_int_t ngx_http_iot_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);


static void ngx_http_iot_content_type(ngx_http_request_t *r,
    ngx_http_iot_dialect_t *d, ngx_uint_t status);


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


static ngx_conf_num_bounds_t  ngx_http_iot_streams_at_least_one = {
    ngx_conf_check_num_bounds, 1, -1
};


static ngx_conf_num_bounds_t  ngx_http_iot_port_bounds = {
    ngx_conf_check_num_bounds, 1, 65535
};


/* how the iotda dialect's messages go to a device of a CoAP product */
static ngx_conf_enum_t  ngx_http_iot_coap_downlinks[] = {
    { ngx_string("pull"), NGX_IOT_DOWNLINK_COAP_PULL },
    { ngx_string("push"), NGX_IOT_DOWNLINK_COAP_PUSH },
    { ngx_null_string, 0 }
};


static ngx_command_t  ngx_http_iot_commands[] = {

    { ngx_string("iot_api"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_iot_api,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("iot_api_errors"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_TAKE1,
      ngx_http_iot_api_errors,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("iot_ws_keepalive"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_iot_loc_conf_t, ws_keepalive),
      NULL },

    { ngx_string("iot_ws_max_message"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_iot_loc_conf_t, ws_max_message),
      NULL },

    { ngx_string("iot_ws_send_buffer"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_iot_loc_conf_t, ws_send_buffer),
      NULL },

    { ngx_string("iot_ws_streams_per_token"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_iot_main_conf_t, per_token),
      &ngx_http_iot_streams_at_least_one },

    { ngx_string("iot_ws_streams_per_collection"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_iot_main_conf_t, per_collection),
      &ngx_http_iot_streams_at_least_one },

    { ngx_string("iot_ws_streams_per_worker"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_iot_streams_per_worker,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("iot_iotda_message_port"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_iot_loc_conf_t, message_port),
      &ngx_http_iot_port_bounds },

    { ngx_string("iot_iotda_coap_downlink"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_iot_loc_conf_t, coap_downlink),
      &ngx_http_iot_coap_downlinks },

    { ngx_string("iot_metrics"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_iot_metrics,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_iot_module_ctx = {
    ngx_http_iot_add_variables,            /* preconfiguration */
    ngx_http_iot_init,                     /* postconfiguration */

    ngx_http_iot_create_main_conf,         /* create main configuration */
    ngx_http_iot_init_main_conf,           /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_iot_create_loc_conf,          /* create location configuration */
    ngx_http_iot_merge_loc_conf            /* merge location configuration */
};


ngx_module_t  ngx_http_iot_module = {
    NGX_MODULE_V1,
    &ngx_http_iot_module_ctx,              /* module context */
    ngx_http_iot_commands,                 /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_iot_exit_process,             /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_int_t
ngx_http_iot_add_variables(ngx_conf_t *cf)
{
    if (ngx_http_iot_log_add_variables(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_iot_iotda_add_variables(cf);
}


static void *
ngx_http_iot_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_iot_main_conf_t  *mcf;

    mcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_iot_main_conf_t));
    if (mcf == NULL) {
        return NULL;
    }

    mcf->per_token = NGX_CONF_UNSET_UINT;
    mcf->per_collection = NGX_CONF_UNSET_UINT;
    mcf->per_worker = NGX_CONF_UNSET_UINT;
    mcf->per_worker_pct = NGX_CONF_UNSET_UINT;

    return mcf;
}


static char *
ngx_http_iot_init_main_conf(ngx_conf_t *cf, void *conf)
{
    return ngx_http_iot_streams_init_conf(cf, conf);
}


static void *
ngx_http_iot_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_iot_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_iot_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    conf->dialect = NGX_CONF_UNSET_PTR;
    conf->errors = NGX_CONF_UNSET_PTR;
    conf->ws_keepalive = NGX_CONF_UNSET_MSEC;
    conf->ws_max_message = NGX_CONF_UNSET_SIZE;
    conf->ws_send_buffer = NGX_CONF_UNSET_SIZE;
    conf->message_port = NGX_CONF_UNSET_UINT;
    conf->coap_downlink = NGX_CONF_UNSET_UINT;

    return conf;
}


static char *
ngx_http_iot_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_iot_loc_conf_t *prev = parent;
    ngx_http_iot_loc_conf_t *conf = child;

    ngx_conf_merge_ptr_value(conf->dialect, prev->dialect, NULL);
    ngx_conf_merge_ptr_value(conf->errors, prev->errors, NULL);
    ngx_conf_merge_msec_value(conf->ws_keepalive, prev->ws_keepalive, 30000);
    ngx_conf_merge_size_value(conf->ws_max_message, prev->ws_max_message,
                              64 * 1024);
    ngx_conf_merge_size_value(conf->ws_send_buffer, prev->ws_send_buffer,
                              1024 * 1024);
    ngx_conf_merge_uint_value(conf->message_port, prev->message_port, 5683);
    ngx_conf_merge_uint_value(conf->coap_downlink, prev->coap_downlink,
                              NGX_IOT_DOWNLINK_COAP_PULL);

    return NGX_CONF_OK;
}


static ngx_http_iot_dialect_t *
ngx_http_iot_dialect(ngx_conf_t *cf, ngx_str_t *name)
{
    ngx_uint_t               i;
    ngx_http_iot_dialect_t  *d;

    for (i = 0; ngx_http_iot_dialects[i]; i++) {
        d = ngx_http_iot_dialects[i];

        if (d->name.len == name->len
            && ngx_strncmp(d->name.data, name->data, name->len) == 0)
        {
            return d;
        }
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid value \"%V\"", name);

    return NULL;
}


static char *
ngx_http_iot_api(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_iot_loc_conf_t *lcf = conf;

    ngx_str_t                 *value;
    ngx_iot_conf_t            *icf;
    ngx_http_core_loc_conf_t  *clcf;

    if (lcf->dialect != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    lcf->dialect = ngx_http_iot_dialect(cf, &value[1]);
    if (lcf->dialect == NULL) {
        return NGX_CONF_ERROR;
    }

    icf = (ngx_iot_conf_t *) ngx_get_conf(cf->cycle->conf_ctx,
                                          ngx_iot_module);

    if (icf->shm_zone == NULL) {
        return "needs \"iot_zone\", \"iot_store\" and "
               "\"iot_admin_token_file\" at the top level of the "
               "configuration, before the http block";
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    clcf->handler = ngx_http_iot_handler;

    return NGX_CONF_OK;
}


/*
 * Errors nginx answers before a location is chosen (a malformed request
 * line, a URI too long, TRACE), and in locations without iot_api, in a
 * dialect's error format.
 */

static char *
ngx_http_iot_api_errors(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_iot_loc_conf_t *lcf = conf;

    ngx_str_t  *value;

    if (lcf->errors != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    lcf->errors = ngx_http_iot_dialect(cf, &value[1]);

    return lcf->errors ? NGX_CONF_OK : NGX_CONF_ERROR;
}


/*
 * The dialect sees the path below its location: with "location /api/"
 * the request /api/a/b is routed as /a/b, segments "a" and "b".
 */

ngx_int_t
ngx_http_iot_split_path(ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx)
{
    u_char                    *p, *last, *start;
    size_t                     skip;
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    skip = 0;

    if (!clcf->exact_match && !clcf->named
#if (NGX_PCRE)
        && clcf->regex == NULL
#endif
        && clcf->name.len <= r->uri.len
        && ngx_strncmp(clcf->name.data, r->uri.data, clcf->name.len) == 0)
    {
        skip = clcf->name.len;

        if (skip && clcf->name.data[skip - 1] == '/') {
            skip--;
        }
    }

    ctx->path.data = r->uri.data + skip;
    ctx->path.len = r->uri.len - skip;

    if (ctx->path.len == 0) {
        ngx_str_set(&ctx->path, "/");
    }

    p = ctx->path.data;
    last = p + ctx->path.len;

    ctx->nseg = 0;

    while (p < last) {
        while (p < last && *p == '/') {
            p++;
        }

        if (p == last) {
            break;
        }

        if (ctx->nseg == NGX_HTTP_IOT_MAX_SEGMENTS) {
            return NGX_DECLINED;
        }

        start = p;

        while (p < last && *p != '/') {
            p++;
        }

        ctx->seg[ctx->nseg].data = start;
        ctx->seg[ctx->nseg].len = p - start;
        ctx->nseg++;
    }

    return NGX_OK;
}


ngx_str_t *
ngx_http_iot_header(ngx_http_request_t *r, ngx_str_t *name)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return NULL;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == name->len
            && ngx_strncasecmp(h[i].key.data, name->data, name->len) == 0)
        {
            return &h[i].value;
        }
    }
}


/* checked before reading, so that the answer is ours, not an HTML page */

ngx_int_t
ngx_http_iot_body_too_large(ngx_http_request_t *r)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    return clcf->client_max_body_size
           && r->headers_in.content_length_n > clcf->client_max_body_size;
}


ngx_int_t
ngx_http_iot_read_json(ngx_http_request_t *r, json_t **json,
    const char **err)
{
    u_char        *p, *data;
    size_t         len;
    ssize_t        n;
    ngx_buf_t     *b;
    ngx_chain_t   *cl;
    json_error_t   jerr;

    *json = NULL;

    if (r->request_body == NULL || r->request_body->bufs == NULL) {
        *err = "a JSON object is required in the body";
        return NGX_DECLINED;
    }

    len = 0;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;
        len += b->in_file ? (size_t) (b->file_last - b->file_pos)
                          : (size_t) (b->last - b->pos);
    }

    if (len == 0) {
        *err = "a JSON object is required in the body";
        return NGX_DECLINED;
    }

    data = ngx_pnalloc(r->pool, len);
    if (data == NULL) {
        return NGX_ERROR;
    }

    p = data;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;

        if (b->in_file) {
            n = ngx_read_file(b->file, p, b->file_last - b->file_pos,
                              b->file_pos);
            if (n != b->file_last - b->file_pos) {
                return NGX_ERROR;
            }

            p += n;

        } else {
            p = ngx_cpymem(p, b->pos, b->last - b->pos);
        }
    }

    *json = json_loadb((char *) data, len, JSON_REJECT_DUPLICATES, &jerr);

    if (*json == NULL) {
        *err = "the body is not valid JSON";
        return NGX_DECLINED;
    }

    if (!json_is_object(*json)) {
        json_decref(*json);
        *json = NULL;
        *err = "the body must be a JSON object";
        return NGX_DECLINED;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_iot_send_chain(ngx_http_request_t *r, ngx_uint_t status,
    ngx_chain_t *out)
{
    off_t         len;
    ngx_int_t     rc;
    ngx_chain_t  *cl;

    len = 0;

    for (cl = out; cl; cl = cl->next) {
        len += ngx_buf_size(cl->buf);

        if (cl->next == NULL) {
            cl->buf->last_buf = (r == r->main) ? 1 : 0;
            cl->buf->last_in_chain = 1;
        }
    }

    r->headers_out.status = status;
    ngx_http_iot_content_type(r, NULL, status);
    r->headers_out.content_length_n = len;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    return ngx_http_output_filter(r, out);
}


ngx_int_t
ngx_http_iot_send(ngx_http_request_t *r, ngx_uint_t status, ngx_buf_t *b)
{
    ngx_int_t    rc;
    ngx_chain_t  out;

    r->headers_out.status = status;
    ngx_http_iot_content_type(r, NULL, status);

    if (b == NULL || b->last == b->pos) {
        r->headers_out.content_length_n = 0;
        r->header_only = 1;
        return ngx_http_send_header(r);
    }

    r->headers_out.content_length_n = b->last - b->pos;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


/* the content type of a dialect (NULL: the location's), of its errors */

static void
ngx_http_iot_content_type(ngx_http_request_t *r, ngx_http_iot_dialect_t *d,
    ngx_uint_t status)
{
    ngx_http_iot_loc_conf_t  *lcf;

    if (d == NULL) {
        lcf = ngx_http_get_module_loc_conf(r, ngx_http_iot_module);
        d = lcf->dialect;
    }

    r->headers_out.content_type =
        (status >= NGX_HTTP_BAD_REQUEST && d->error_type.len)
        ? d->error_type : d->content_type;
    r->headers_out.content_type_len = r->headers_out.content_type.len;
}


ngx_int_t
ngx_http_iot_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *message)
{
    ngx_buf_t                *b;
    ngx_http_iot_loc_conf_t  *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_iot_module);

    b = lcf->dialect->error(r, status, message);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_iot_send(r, status, b);
}


/*
 * Errors that nginx answers by itself inside an iot_api location (a
 * chunked body over client_max_body_size, a body that times out, a failed
 * allocation) are sent in the dialect's error format, not as HTML.
 */

/* what each dialect keeps in the worker, let go as it exits */

static void
ngx_http_iot_exit_process(ngx_cycle_t *cycle)
{
    ngx_uint_t  i;

    for (i = 0; ngx_http_iot_dialects[i]; i++) {
        if (ngx_http_iot_dialects[i]->exit_process) {
            ngx_http_iot_dialects[i]->exit_process(cycle);
        }
    }
}


static ngx_int_t
ngx_http_iot_init(ngx_conf_t *cf)
{
    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_iot_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_iot_body_filter;

    /* outputs render data messages as the collections dialect does */
    ngx_iot_outputs_renderer(ngx_http_iot_collections_render);

    return NGX_OK;
}


static ngx_int_t
ngx_http_iot_header_filter(ngx_http_request_t *r)
{
    ngx_buf_t                *b;
    const char               *message;
    ngx_http_iot_ctx_t       *ctx;
    ngx_http_iot_dialect_t   *d;
    ngx_http_iot_loc_conf_t  *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_iot_module);
    d = lcf->dialect ? lcf->dialect : lcf->errors;

    if (d == NULL || r != r->main || r->err_status < NGX_HTTP_BAD_REQUEST) {
        return ngx_http_next_header_filter(r);
    }

    /* nginx may refuse a request before our handler has run */

    ctx = ngx_http_get_module_ctx(r, ngx_http_iot_module);

    if (ctx == NULL) {
        ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_iot_ctx_t));
        if (ctx == NULL) {
            return NGX_ERROR;
        }

        ngx_http_set_ctx(r, ctx, ngx_http_iot_module);
    }

    switch (r->err_status) {

    case NGX_HTTP_BAD_REQUEST:
        message = "the request is malformed";
        break;

    case NGX_HTTP_NOT_FOUND:
        message = "no such resource";
        break;

    case NGX_HTTP_NOT_ALLOWED:
        /* TRACE, refused before any location: RFC 9110 wants an Allow */
        message = "the method is not allowed";

        if (ngx_http_iot_allow_any(r) != NGX_OK) {
            return NGX_ERROR;
        }

        break;

    case NGX_HTTP_REQUEST_TIME_OUT:
        message = "the request body did not arrive in time";
        break;

    case NGX_HTTP_REQUEST_URI_TOO_LARGE:
        message = "the request URI is too long";
        break;

    case NGX_HTTP_NOT_IMPLEMENTED:
        message = "the request uses what this server does not implement "
                  "(a transfer encoding, a method)";
        break;

    case NGX_HTTP_REQUEST_ENTITY_TOO_LARGE:
        message = "the body is larger than client_max_body_size";
        break;

    case NGX_HTTP_SERVICE_UNAVAILABLE:
        message = "the service is unavailable";
        break;

    default:
        message = "the request could not be served";
        break;
    }

    b = d->error(r, r->err_status, message);
    if (b == NULL) {
        return NGX_ERROR;
    }

    ctx->replacement = b;

    ngx_http_iot_content_type(r, d, r->err_status);
    r->headers_out.content_length_n = b->last - b->pos;

    if (r->headers_out.content_length) {
        r->headers_out.content_length->hash = 0;
        r->headers_out.content_length = NULL;
    }

    return ngx_http_next_header_filter(r);
}


/* an Allow header, unless the answer has one */

static ngx_int_t
ngx_http_iot_allow_any(ngx_http_request_t *r)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    part = &r->headers_out.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].hash && h[i].key.len == sizeof("Allow") - 1
            && ngx_strncasecmp(h[i].key.data, (u_char *) "Allow",
                               sizeof("Allow") - 1)
               == 0)
        {
            return NGX_OK;
        }
    }

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Allow");
    ngx_str_set(&h->value, "GET, HEAD, POST, PUT, PATCH, DELETE");

    return NGX_OK;
}


static ngx_int_t
ngx_http_iot_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_buf_t           *b;
    ngx_chain_t          out;
    ngx_http_iot_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_iot_module);

    if (ctx == NULL || ctx->replacement == NULL) {
        return ngx_http_next_body_filter(r, in);
    }

    if (in == NULL) {
        return ngx_http_next_body_filter(r, NULL);
    }

    /* nginx's page is dropped; ours goes out once, whole */

    for ( /* void */ ; in; in = in->next) {
        in->buf->pos = in->buf->last;
        in->buf->file_pos = in->buf->file_last;
    }

    b = ctx->replacement;

    if (b->last_buf) {
        return NGX_OK;
    }

    b->last_buf = 1;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_next_body_filter(r, &out);
}
