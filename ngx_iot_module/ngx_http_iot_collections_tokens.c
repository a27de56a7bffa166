
/*
 * Copyright (C) nginx-iot authors
 *
 * The collections dialect: /tokens and /tokens/{token}.  A token sees,
 * makes and changes only tokens of its own user whose resource lies
 * inside its own.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_iot_collections.h"


/* a new token, tried again when its public prefix is taken already */
typedef struct {
    ngx_iot_token_change_t     change;
    ngx_uint_t                 tries;
} ngx_http_iot_token_new_t;


static ngx_int_t ngx_http_iot_token_create(ngx_http_request_t *r,
    ngx_http_iot_token_new_t *tn);
static ngx_int_t ngx_http_iot_token_created(ngx_http_request_t *r,
    ngx_iot_rc_e rc);


static ngx_http_iot_collections_outcome_t  ngx_http_iot_token_changed =
    { NGX_HTTP_OK, "token not found", NGX_HTTP_IOT_OUT_TOKEN, 0 };
static ngx_http_iot_collections_outcome_t  ngx_http_iot_token_deleted =
    { NGX_HTTP_NO_CONTENT, "token not found", NGX_HTTP_IOT_OUT_TOKEN, 0 };


static ngx_int_t
ngx_http_iot_token_row(ngx_http_request_t *r, ngx_http_iot_list_t *list,
    void *row, ngx_buf_t *b)
{
    ngx_iot_token_t  *t = row;

    ngx_http_iot_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_iot_module);

    if (t->user_id != ctx->who.user_id
        || !ngx_http_iot_collections_covers(&ctx->who, t->resource.data,
                                            t->resource.len))
    {
        return NGX_DECLINED;
    }

    if (b == NULL) {
        return NGX_OK;
    }

    if ((size_t) (b->end - b->last) < ngx_http_iot_collections_token_len(t)) {
        return NGX_AGAIN;
    }

    b->last = ngx_http_iot_collections_token_write(b->last, t, NULL);

    return NGX_OK;
}


static ngx_int_t
ngx_http_iot_token_fields(ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx,
    ngx_iot_token_change_t *ch, ngx_uint_t create)
{
    json_t     *v;
    ngx_int_t   rc;

    ngx_memzero(ch, sizeof(ngx_iot_token_change_t));
    ch->write = -1;

    v = ngx_http_iot_collections_field(ctx->body, "resource");

    if (v == NULL) {
        if (create) {
            return ngx_http_iot_invalid(r, NGX_HTTP_BAD_REQUEST,
                                        "resource is required");
        }

    } else {
        if (!json_is_string(v)) {
            return ngx_http_iot_invalid(r, NGX_HTTP_BAD_REQUEST,
                                        "resource must be a path "
                                        "starting with /");
        }

        ch->resource.data = (u_char *) json_string_value(v);
        ch->resource.len = json_string_length(v);

        if (ngx_http_iot_collections_resource_check(&ch->resource) != NGX_OK) {
            return ngx_http_iot_invalid(r, NGX_HTTP_BAD_REQUEST,
                                        "resource must be a path "
                                        "starting with /, at most "
                                        "512 printable characters");
        }

        if (!ngx_http_iot_collections_covers(&ctx->who, ch->resource.data,
                                             ch->resource.len))
        {
            return ngx_http_iot_invalid(r, NGX_HTTP_FORBIDDEN,
                                        "a token cannot reach "
                                        "further than the token "
                                        "that makes it");
        }
    }

    v = ngx_http_iot_collections_field(ctx->body, "write");

    if (v) {
        if (!json_is_boolean(v)) {
            return ngx_http_iot_invalid(r, NGX_HTTP_BAD_REQUEST,
                                        "write must be a boolean");
        }

        ch->write = json_is_true(v) ? 1 : 0;

    } else if (create) {
        ch->write = 0;
    }

    rc = ngx_http_iot_collections_tags_field(r, ctx->body, &ch->tags);

    return rc;
}


ngx_int_t
ngx_http_iot_collections_tokens(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx)
{
    ngx_int_t                  rc;
    ngx_iot_token_change_t     ch;
    ngx_http_iot_token_new_t  *tn;

    if (r->method & NGX_HTTP_IOT_M_GET) {
        if (ngx_http_iot_list_new(r, ctx) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ctx->list->cursor.kind = NGX_IOT_STORE_TOKENS;
        ctx->list->row = ngx_http_iot_token_row;
        ngx_str_set(&ctx->list->head, "{\"tokens\":[");

        return ngx_http_iot_collections_list_page(r, ctx->list);
    }

    if (!ctx->who.write) {
        return ngx_http_iot_error(r, NGX_HTTP_FORBIDDEN,
                                  "the API token is read-only");
    }

    rc = ngx_http_iot_token_fields(r, ctx, &ch, 1);
    if (rc != NGX_OK) {
        return ngx_http_iot_reject(r);
    }

    tn = ngx_pcalloc(r->pool, sizeof(ngx_http_iot_token_new_t));
    if (tn == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    tn->change = ch;

    /* a token is its maker's user's, and never reaches more than it */
    tn->change.user_id = ctx->who.user_id;
    tn->change.team_id = ctx->who.team_id;

    return ngx_http_iot_token_create(r, tn);
}


static ngx_int_t
ngx_http_iot_token_create(ngx_http_request_t *r, ngx_http_iot_token_new_t *tn)
{
    ngx_iot_rc_e     irc;
    ngx_iot_wait_t  *wait;

    wait = ngx_http_iot_waiter(r, ngx_http_iot_token_created, tn);

    irc = ngx_iot_token_create((ngx_cycle_t *) ngx_cycle, &tn->change,
                               r->pool, &wait->out.t, wait->secret,
                               r->connection->log, wait);

    return ngx_http_iot_answer(r, irc);
}


/* a new token's public prefix may, very rarely, be taken already */

static ngx_int_t
ngx_http_iot_token_created(ngx_http_request_t *r, ngx_iot_rc_e rc)
{
    ngx_int_t                  n;
    ngx_http_iot_ctx_t        *ctx;
    ngx_http_iot_token_new_t  *tn;

    ctx = ngx_http_get_module_ctx(r, ngx_http_iot_module);
    tn = ctx->answer_data;

    if (rc == NGX_IOT_STORE_ERROR && ++tn->tries < 3) {
        return ngx_http_iot_token_create(r, tn);
    }

    if (rc != NGX_IOT_OK) {
        n = ngx_http_iot_collections_rc_error(r, rc, "token not found");

    } else {
        n = ngx_http_iot_collections_send_token(r, NGX_HTTP_CREATED,
                                                &ctx->wait.out.t,
                                                ctx->wait.secret);
    }

    ngx_explicit_memzero(ctx->wait.secret, NGX_IOT_TOKEN_LEN);

    return n;
}


ngx_int_t
ngx_http_iot_collections_token(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx)
{
    u_char                  hash[NGX_IOT_HASH_LEN];
    ngx_int_t               rc;
    ngx_iot_rc_e            irc;
    ngx_cycle_t            *cycle;
    ngx_iot_wait_t         *wait;
    ngx_iot_token_t         t;
    ngx_iot_token_change_t  ch;

    cycle = (ngx_cycle_t *) ngx_cycle;

    if (!(r->method & NGX_HTTP_IOT_M_GET) && !ctx->who.write) {
        return ngx_http_iot_error(r, NGX_HTTP_FORBIDDEN,
                                  "the API token is read-only");
    }

    rc = ngx_iot_token_find_hash(cycle, &ctx->seg[1], hash,
                                 r->connection->log);

    if (rc == NGX_ERROR) {
        return ngx_http_iot_collections_rc_error(r, NGX_IOT_STORE_ERROR, NULL);
    }

    if (rc == NGX_DECLINED) {
        return ngx_http_iot_error(r, NGX_HTTP_NOT_FOUND, "token not found");
    }

    irc = ngx_iot_token_get(cycle, hash, r->pool, &t);

    if (irc != NGX_IOT_OK) {
        return ngx_http_iot_collections_rc_error(r, irc, "token not found");
    }

    /* a token outside the caller's reach (or another user's) is not there */

    if (t.user_id != ctx->who.user_id
        || !ngx_http_iot_collections_covers(&ctx->who, t.resource.data,
                                            t.resource.len))
    {
        return ngx_http_iot_error(r, NGX_HTTP_NOT_FOUND, "token not found");
    }

    if (r->method & NGX_HTTP_IOT_M_GET) {
        return ngx_http_iot_collections_send_token(r, NGX_HTTP_OK, &t, NULL);
    }

    if (r->method == NGX_HTTP_DELETE) {
        wait = ngx_http_iot_collections_waiter(r, &ngx_http_iot_token_deleted);

        irc = ngx_iot_token_delete(cycle, hash, r->connection->log, wait);

        return ngx_http_iot_answer(r, irc);
    }

    rc = ngx_http_iot_token_fields(r, ctx, &ch, 0);
    if (rc != NGX_OK) {
        return ngx_http_iot_reject(r);
    }

    wait = ngx_http_iot_collections_waiter(r, &ngx_http_iot_token_changed);

    irc = ngx_iot_token_update(cycle, hash, &ch, r->pool, &wait->out.t,
                               r->connection->log, wait);

    return ngx_http_iot_answer(r, irc);
}
