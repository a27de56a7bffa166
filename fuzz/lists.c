
/*
 * Copyright (C) nginx-iot authors
 *
 * The query strings of lists and their opaque cursors: the things
 * dialect's list arguments (filters, times, sort, limit, the cursor of
 * devices, groups and links; ngx_http_iot_things_devices.c) and the iotda
 * dialect's (ngx_http_iot_iotda_devices.c), against a real, empty
 * registry.  A things cursor that is taken is written again and must read
 * back as the same position (an invariant).  The collections dialect's
 * cursor is an entity id or a token hint of fixed length: the ids target
 * covers its decoder.
 *
 * Input: byte 0 chooses the list, the rest is the query string.
 */


#include "ngx_fuzz_http.h"
#include "ngx_http_iot_things_devices.c"
#include "ngx_http_iot_iotda_devices.c"


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    ngx_fuzz_init();
    ngx_fuzz_zone();
    return 0;
}


static void
ngx_fuzz_cursor_again(ngx_http_request_t *r, ngx_http_iot_things_filter_t *f)
{
    u_char                        *last;
    ngx_str_t                      text;
    ngx_iot_store_pos_t           *pos;
    ngx_http_iot_things_filter_t   g;
    u_char                         buf[NGX_HTTP_IOT_THINGS_CURSOR_MAX];

    pos = f->pos;

    last = ngx_http_iot_things_cursor_write(buf, f, pos, f->before,
                                            f->inclusive);

    if ((size_t) (last - buf) > sizeof(buf)) {
        abort();
    }

    text.data = buf;
    text.len = last - buf;

    g = *f;
    g.pos = NULL;

    if (ngx_http_iot_things_cursor_read(r, &g, &text) != NGX_OK
        || g.pos == NULL
        || g.pos->id != pos->id
        || g.pos->created_at != pos->created_at
        || g.pos->modified_at != pos->modified_at
        || g.before != f->before || g.inclusive != f->inclusive)
    {
        abort();
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t                       after;
    ngx_int_t                      rc;
    ngx_uint_t                     limit, offset;
    ngx_pool_t                    *pool;
    ngx_http_iot_ctx_t            *ctx;
    ngx_http_request_t            *r;
    ngx_http_iot_iotda_filter_t    df;
    ngx_http_iot_things_filter_t  *f;

    if (size < 1 || size > 8192) {
        return 0;
    }

    pool = ngx_fuzz_pool();
    r = ngx_fuzz_request(pool);
    ctx = ngx_http_get_module_ctx(r, ngx_http_iot_module);

    r->args.data = ngx_fuzz_copy(pool, data + 1, size - 1);
    r->args.len = size - 1;

    if (data[0] & 0x80) {
        /* credentials of one collection */
        ctx->who.admin = 0;
        ctx->who.all = 0;
        ctx->who.collections = ngx_palloc(pool, sizeof(uint64_t));
        ctx->who.collections[0] = 0x123456789ULL;
        ctx->who.ncollections = 1;
    }

    switch (data[0] & 3) {

    case 3:
        ngx_memzero(&df, sizeof(ngx_http_iot_iotda_filter_t));
        df.who = &ctx->who;

        rc = ngx_http_iot_iotda_list_args(r, &df, &after, &limit, &offset);
        break;

    default:
        f = ngx_pcalloc(pool, sizeof(ngx_http_iot_things_filter_t));
        if (f == NULL) {
            abort();
        }

        f->what = data[0] & 3;
        if (ngx_http_iot_list_new(r, ctx) != NGX_OK) {
            abort();
        }

        ctx->list->cursor.kind = NGX_IOT_STORE_DEVICES;

        rc = ngx_http_iot_things_list_args(r, ctx, f);

        if (rc == NGX_OK && f->pos) {
            ngx_fuzz_cursor_again(r, f);
        }

        break;
    }

    ngx_fuzz_refusal(r, rc);

    ngx_destroy_pool(pool);

    return 0;
}
