
/*
 * Copyright (C) nginx-iot authors
 *
 * Streamed lists.  Rows are read from the store a batch at a time, in key
 * order, and sent as they are rendered; the next batch is read only when
 * the client has taken the previous one.  A list of a million devices
 * never sits in memory whole, and no read transaction outlives a batch.
 * The envelope is the dialect's: the route gives the list's opening, the
 * dialect table its end and the cursor of the next page.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_iot.h"
#include "ngx_http_iot_dialect.h"


#define NGX_HTTP_IOT_LIST_BATCH  256
#define NGX_HTTP_IOT_LIST_BUF    65536


/* one batch being rendered into one buffer */
typedef struct {
    ngx_http_request_t        *request;
    ngx_http_iot_list_t       *list;
    ngx_buf_t                 *buf;
    unsigned                   more:1;      /* a visible row is left */
    unsigned                   full:1;      /* the buffer is */
    unsigned                   complete:1;  /* the answer has all it takes */
} ngx_http_iot_list_batch_t;


static void ngx_http_iot_list_write(ngx_http_request_t *r);
static ngx_int_t ngx_http_iot_list_batch(ngx_http_request_t *r,
    ngx_http_iot_list_t *list, ngx_chain_t **out);
static ngx_int_t ngx_http_iot_list_take(void *row, void *data);
static void ngx_http_iot_list_sent(ngx_http_iot_list_t *list, void *row);
static void ngx_http_iot_list_run(ngx_http_request_t *r);


/*
 * A request's list, made by the handler that starts one: most requests
 * are not lists, and the list is most of what a request's context would
 * otherwise zero.
 */

ngx_int_t
ngx_http_iot_list_new(ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx)
{
    if (ctx->list == NULL) {
        ctx->list = ngx_pcalloc(r->pool, sizeof(ngx_http_iot_list_t));
        if (ctx->list == NULL) {
            return NGX_ERROR;
        }

        ctx->list->request = r;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_iot_list_start(ngx_http_request_t *r, ngx_http_iot_list_t *list)
{
    ngx_int_t            rc;
    ngx_iot_store_t     *store;
    ngx_http_iot_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_iot_module);

    /* once the header is out, a store that fails can only cut the answer */

    store = list->store ? list->store
                        : ngx_iot_store_get((ngx_cycle_t *) ngx_cycle,
                                            r->connection->log);

    if (store == NULL
        || ngx_iot_store_usable(store, r->connection->log) != NGX_OK)
    {
        return ngx_http_iot_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                  "the store cannot be read now, "
                                  "try again later");
    }

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_type = ctx->dialect->content_type;
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_length_n = -1;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    r->main->count++;
    r->write_event_handler = ngx_http_iot_list_write;

    ngx_http_iot_list_run(r);

    return NGX_DONE;
}


static void
ngx_http_iot_list_write(ngx_http_request_t *r)
{
    ngx_event_t               *wev;
    ngx_http_core_loc_conf_t  *clcf;

    wev = r->connection->write;

    if (wev->timedout) {
        r->connection->timedout = 1;
        ngx_http_finalize_request(r, NGX_HTTP_REQUEST_TIME_OUT);
        return;
    }

    if (wev->timer_set) {
        ngx_del_timer(wev);
    }

    if (ngx_http_output_filter(r, NULL) == NGX_ERROR) {
        ngx_http_finalize_request(r, NGX_ERROR);
        return;
    }

    if (r->connection->buffered) {
        clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

        if (!wev->delayed) {
            ngx_add_timer(wev, clcf->send_timeout);
        }

        if (ngx_handle_write_event(wev, clcf->send_lowat) != NGX_OK) {
            ngx_http_finalize_request(r, NGX_ERROR);
        }

        return;
    }

    ngx_http_iot_list_run(r);
}


/* sends batches until the socket is full or the list is done */

static void
ngx_http_iot_list_run(ngx_http_request_t *r)
{
    ngx_int_t                  rc;
    ngx_chain_t               *out;
    ngx_event_t               *wev;
    ngx_http_iot_ctx_t        *ctx;
    ngx_http_core_loc_conf_t  *clcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_iot_module);
    wev = r->connection->write;

    for ( ;; ) {
        rc = ngx_http_iot_list_batch(r, ctx->list, &out);

        if (rc == NGX_ERROR) {
            /* the header is out: all that is left is to cut the answer */
            ngx_http_finalize_request(r, NGX_ERROR);
            return;
        }

        rc = ngx_http_output_filter(r, out);

        if (rc == NGX_ERROR) {
            ngx_http_finalize_request(r, NGX_ERROR);
            return;
        }

        ngx_chain_update_chains(r->pool, &ctx->list->free, &ctx->list->busy,
                                &out, (ngx_buf_tag_t) &ngx_http_iot_module);

        if (ctx->list->done) {
            ngx_http_finalize_request(r, rc);
            return;
        }

        if (r->connection->buffered) {
            clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

            ngx_add_timer(wev, clcf->send_timeout);

            if (ngx_handle_write_event(wev, clcf->send_lowat) != NGX_OK) {
                ngx_http_finalize_request(r, NGX_ERROR);
            }

            return;
        }
    }
}


static ngx_int_t
ngx_http_iot_list_batch(ngx_http_request_t *r, ngx_http_iot_list_t *list,
    ngx_chain_t **out)
{
    u_char                     *end;
    size_t                      size;
    ngx_int_t                   rc;
    ngx_buf_t                  *b;
    ngx_chain_t                *cl;
    ngx_iot_store_t            *store;
    ngx_http_iot_ctx_t         *ctx;
    ngx_http_iot_dialect_t     *d;
    ngx_http_iot_list_batch_t   bt;

    ctx = ngx_http_get_module_ctx(r, ngx_http_iot_module);
    d = ctx->dialect;

    store = list->store ? list->store
                        : ngx_iot_store_get((ngx_cycle_t *) ngx_cycle,
                                            r->connection->log);
    if (store == NULL) {
        return NGX_ERROR;
    }

    size = NGX_HTTP_IOT_LIST_BUF;

    if (list->tmp) {
        ngx_reset_pool(list->tmp);
    }

    if (list->free) {
        cl = list->free;
        list->free = cl->next;
        cl->next = NULL;

        b = cl->buf;
        b->pos = b->start;
        b->last = b->start;
        b->flush = 0;

    } else {
        cl = ngx_alloc_chain_link(r->pool);
        if (cl == NULL) {
            return NGX_ERROR;
        }

        b = ngx_create_temp_buf(r->pool, size);
        if (b == NULL) {
            return NGX_ERROR;
        }

        b->tag = (ngx_buf_tag_t) &ngx_http_iot_module;
        cl->buf = b;
        cl->next = NULL;
    }

    if (!list->head_sent) {
        b->last = ngx_cpymem(b->last, list->head.data, list->head.len);
        list->head_sent = 1;
    }

    ngx_memzero(&bt, sizeof(ngx_http_iot_list_batch_t));
    bt.request = r;
    bt.list = list;
    bt.buf = b;

    /* room for the list's tail is kept back from every row */
    end = b->end;
    b->end -= d->list_tail_max;

    rc = ngx_iot_store_list(store, &list->cursor, NGX_HTTP_IOT_LIST_BATCH,
                            ngx_http_iot_list_take, &bt, r->connection->log);

    b->end = end;

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (bt.more || bt.complete || (!bt.full && list->cursor.done)) {
        list->done = 1;

        b->last = d->list_tail(b->last, list, bt.more);

        b->last_buf = (r == r->main) ? 1 : 0;
        b->last_in_chain = 1;
    }

    if (b->last == b->pos) {
        /* a batch of rows the caller may not see */
        cl->next = list->free;
        list->free = cl;
        *out = NULL;
        return NGX_OK;
    }

    b->flush = 1;
    *out = cl;

    return NGX_OK;
}


/* one row from the store: rendered, skipped, or left for the next batch */

static ngx_int_t
ngx_http_iot_list_take(void *row, void *data)
{
    ngx_http_iot_list_batch_t  *bt = data;

    u_char               *mark;
    ngx_int_t             rc;
    ngx_buf_t            *b;
    ngx_http_request_t   *r;
    ngx_http_iot_list_t  *list;

    r = bt->request;
    list = bt->list;
    b = bt->buf;

    if (list->limit && list->sent == list->limit) {

        if (list->cursor.kind == NGX_IOT_STORE_HISTORY
            || list->cursor.kind == NGX_IOT_STORE_DEVICE_HISTORY)
        {
            /* the history has no pages: the answer is complete */
            bt->complete = 1;
            return NGX_AGAIN;
        }

        /* the page is full: is there one more row the caller may see? */

        rc = list->row(r, list, row, NULL);

        if (rc == NGX_OK) {
            bt->more = 1;
            return NGX_AGAIN;
        }

        return (rc == NGX_ERROR) ? NGX_ERROR : NGX_OK;
    }

    mark = b->last;

    if (list->sent) {
        *b->last++ = ',';
    }

    rc = list->row(r, list, row, b);

    switch (rc) {

    case NGX_ERROR:
        return NGX_ERROR;

    case NGX_DECLINED:
        b->last = mark;
        return NGX_OK;

    case NGX_AGAIN:
        /* no room left: this row starts the next batch */
        b->last = mark;
        bt->full = 1;
        return NGX_AGAIN;
    }

    list->sent++;
    ngx_http_iot_list_sent(list, row);

    return NGX_OK;
}


/* the key of the last row sent, from which a dialect makes its cursor */

static void
ngx_http_iot_list_sent(ngx_http_iot_list_t *list, void *row)
{
    if (list->cursor.keyed && list->last) {
        ngx_iot_store_pos_copy(list->last, &list->cursor.row);
    }

    switch (list->cursor.kind) {

    case NGX_IOT_STORE_COLLECTIONS:
        list->sent_id = ((ngx_iot_collection_t *) row)->id.key;
        break;

    case NGX_IOT_STORE_DEVICES:
        list->sent_id = ((ngx_iot_device_t *) row)->id.key;
        break;

    case NGX_IOT_STORE_TOKENS:
        ngx_memcpy(list->sent_key, ((ngx_iot_token_t *) row)->hint,
                   NGX_IOT_TOKEN_HINT_LEN);
        list->sent_key_len = NGX_IOT_TOKEN_HINT_LEN;
        break;

    case NGX_IOT_STORE_GROUPS:
        list->sent_id = ((ngx_iot_group_t *) row)->id.key;
        break;

    case NGX_IOT_STORE_GROUP_MEMBERS:
        list->sent_id = ((ngx_iot_member_t *) row)->device_id;
        break;

    case NGX_IOT_STORE_DEVICE_MEMBERS:
        list->sent_id = ((ngx_iot_member_t *) row)->group_id;
        break;

    default:
        list->sent_id = ((ngx_iot_message_t *) row)->id;
        break;
    }
}


static void
ngx_http_iot_list_tmp_free(void *data)
{
    ngx_http_iot_list_t  *list = data;

    if (list->tmp) {
        ngx_destroy_pool(list->tmp);
        list->tmp = NULL;
    }
}


/* the list's own pool goes with the request */

ngx_int_t
ngx_http_iot_list_cleanup(ngx_http_request_t *r, ngx_http_iot_list_t *list)
{
    ngx_pool_cleanup_t  *cln;

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_http_iot_list_tmp_free;
    cln->data = list;

    return NGX_OK;
}
