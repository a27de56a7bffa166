
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


static void ngx_http_iot_list_write(ngx_http_request_t *r);
static ngx_int_t ngx_http_iot_list_batch(ngx_http_request_t *r,
    ngx_http_iot_list_t *list, ngx_chain_t **out);
static void ngx_http_iot_list_run(ngx_http_request_t *r);


ngx_int_t
ngx_http_iot_list_start(ngx_http_request_t *r, ngx_http_iot_list_t *list)
{
    ngx_int_t            rc;
    ngx_http_iot_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_iot_module);

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
        rc = ngx_http_iot_list_batch(r, &ctx->list, &out);

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

        ngx_chain_update_chains(r->pool, &ctx->list.free, &ctx->list.busy,
                                &out, (ngx_buf_tag_t) &ngx_http_iot_module);

        if (ctx->list.done) {
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
    int                      rc, col;
    u_char                  *mark, *end;
    int64_t                  prev_id, prev_time;
    size_t                   prev_len;
    u_char                   prev_key[NGX_IOT_TOKEN_HINT_LEN];
    size_t                   size;
    ngx_int_t                rrc;
    ngx_buf_t               *b;
    ngx_uint_t               rows, more, full;
    sqlite3_stmt            *st;
    ngx_chain_t             *cl;
    ngx_iot_store_t         *store;
    ngx_http_iot_ctx_t      *ctx;
    ngx_http_iot_dialect_t  *d;

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

    st = ngx_iot_store_stmt(store, list->sql);
    if (st == NULL) {
        ngx_iot_store_log_error(store, "listing", r->connection->log);
        return NGX_ERROR;
    }

    col = 1;

    if (list->has_scope) {
        sqlite3_bind_int64(st, col++, list->scope);
    }

    if (list->by_time) {
        sqlite3_bind_int64(st, col++, list->scan_time);
        sqlite3_bind_int64(st, col++, list->scan_id);
        sqlite3_bind_int64(st, col++, list->since);

    } else if (list->text_key) {
        sqlite3_bind_text(st, col++, (char *) list->scan_key,
                          list->scan_key_len, SQLITE_STATIC);

    } else {
        sqlite3_bind_int64(st, col++, list->scan_id);
    }

    sqlite3_bind_int(st, col, NGX_HTTP_IOT_LIST_BATCH);

    rows = 0;
    more = 0;
    full = 0;

    /* room for the list's tail is kept back from every row */
    end = b->end;
    b->end -= d->list_tail_max;

    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        rows++;

        prev_id = list->scan_id;
        prev_time = list->scan_time;
        prev_len = list->scan_key_len;
        ngx_memcpy(prev_key, list->scan_key, prev_len);

        if (list->by_time) {
            list->scan_id = sqlite3_column_int64(st, 0);
            list->scan_time = sqlite3_column_int64(st, 3);

        } else if (list->text_key) {
            list->scan_key_len = ngx_min((size_t) sqlite3_column_bytes(st, 1),
                                         NGX_IOT_TOKEN_HINT_LEN);
            ngx_memcpy(list->scan_key, sqlite3_column_text(st, 1),
                       list->scan_key_len);

        } else {
            list->scan_id = sqlite3_column_int64(st, 0);
        }

        if (list->limit && list->sent == list->limit && list->by_time) {
            /* the history has no pages: the answer is complete */
            break;
        }

        if (list->limit && list->sent == list->limit) {
            /* the page is full: is there one more row the caller may see? */
            rrc = list->row(r, list, st, NULL);

            if (rrc == NGX_OK) {
                more = 1;
                break;
            }

            if (rrc == NGX_ERROR) {
                sqlite3_reset(st);
                return NGX_ERROR;
            }

            continue;
        }

        mark = b->last;

        if (list->sent) {
            *b->last++ = ',';
        }

        rrc = list->row(r, list, st, b);

        if (rrc == NGX_ERROR) {
            sqlite3_reset(st);
            return NGX_ERROR;
        }

        if (rrc == NGX_DECLINED) {
            b->last = mark;
            continue;
        }

        if (rrc == NGX_AGAIN) {
            /* no room left: this row starts the next batch */
            b->last = mark;
            list->scan_id = prev_id;
            list->scan_time = prev_time;
            list->scan_key_len = prev_len;
            ngx_memcpy(list->scan_key, prev_key, prev_len);
            full = 1;
            break;
        }

        list->sent++;
        list->sent_id = list->scan_id;
        list->sent_key_len = list->scan_key_len;
        ngx_memcpy(list->sent_key, list->scan_key, list->scan_key_len);
    }

    sqlite3_reset(st);

    b->end = end;

    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        ngx_iot_store_log_error(store, "listing", r->connection->log);
        return NGX_ERROR;
    }

    if (list->by_time && list->limit && list->sent == list->limit) {
        full = 0;
        rows = 0;
    }

    if (more || (!full && rows < NGX_HTTP_IOT_LIST_BATCH)) {
        list->done = 1;

        b->last = d->list_tail(b->last, list, more);

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
