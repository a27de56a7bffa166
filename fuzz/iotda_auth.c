
/*
 * Copyright (C) nginx-iot authors
 *
 * The iotda dialect's signed requests: the Authorization header
 * (SDK-HMAC-SHA256 and V11-HMAC-SHA256, ngx_http_iot_iotda.c), the
 * X-Sdk-Date, and the canonical request and signatures
 * (ngx_http_iot_iotda_sign.c) made from what a client sent, as
 * ngx_http_iot_iotda_verify() does.
 *
 * Input: fields separated by "\n\n": the Authorization header, X-Sdk-Date,
 * the method, the path, the query, then one value per signed header.  The
 * method's first byte also chooses where the scratch memory starts (at
 * any byte, as ngx_pnalloc() gives it), the date's length whether the
 * body is signed (even) or UNSIGNED-PAYLOAD.
 */


#include "ngx_fuzz.h"
#include "ngx_http_iot_iotda.c"


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    ngx_fuzz_init();
    return 0;
}


static void
ngx_fuzz_next(ngx_pool_t *pool, const uint8_t *data, size_t size,
    size_t *pos, ngx_str_t *s)
{
    ngx_str_t  f;

    ngx_fuzz_field(data, size, pos, &f);

    s->len = f.len;
    s->data = ngx_fuzz_copy(pool, f.data, f.len);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char                        *scratch;
    u_char                         canonical[NGX_HTTP_IOT_IOTDA_HEX_LEN];
    u_char                         key[NGX_HTTP_IOT_IOTDA_HEX_LEN];
    u_char                         sig[NGX_HTTP_IOT_IOTDA_HEX_LEN];
    u_char                         sk[NGX_HTTP_IOT_IOTDA_HEX_LEN];
    size_t                         pos, n, i, offset;
    time_t                         t;
    ngx_str_t                      h, date, method, path, query, v;
    ngx_pool_t                    *pool;
    ngx_http_iot_iotda_auth_t      auth;
    ngx_http_iot_iotda_bytes_t     b_date, b_sk, b_ak, b_info;
    ngx_http_iot_iotda_request_t   req;

    if (size > 16384) {
        return 0;
    }

    pool = ngx_fuzz_pool();
    pos = 0;

    ngx_fuzz_next(pool, data, size, &pos, &h);
    ngx_fuzz_next(pool, data, size, &pos, &date);

    (void) ngx_http_iot_iotda_date(&date, &t);

    if (ngx_http_iot_iotda_parse_auth(&h, &auth) != NGX_OK) {
        ngx_destroy_pool(pool);
        return 0;
    }

    ngx_log_error(NGX_LOG_INFO, &ngx_fuzz_log, 0,
                  "iotda: ak \"%V\" info \"%V\" headers \"%V\" sig \"%V\"",
                  &auth.ak, &auth.info, &auth.signed_headers,
                  &auth.signature);

    ngx_fuzz_next(pool, data, size, &pos, &method);
    ngx_fuzz_next(pool, data, size, &pos, &path);
    ngx_fuzz_next(pool, data, size, &pos, &query);

    n = 1;

    for (i = 0; i < auth.signed_headers.len; i++) {
        n += (auth.signed_headers.data[i] == ';');
    }

    req.values = ngx_palloc(pool, n * sizeof(ngx_http_iot_iotda_bytes_t));
    if (req.values == NULL) {
        abort();
    }

    for (i = 0; i < n; i++) {
        ngx_fuzz_next(pool, data, size, &pos, &v);
        req.values[i].data = v.data;
        req.values[i].len = v.len;
    }

    req.nvalues = n;
    req.method.data = method.data;
    req.method.len = method.len;
    req.path.data = path.data;
    req.path.len = path.len;
    req.query.data = query.data;
    req.query.len = query.len;
    req.signed_headers.data = auth.signed_headers.data;
    req.signed_headers.len = auth.signed_headers.len;

    /* the body's hash: of nothing, or UNSIGNED-PAYLOAD */

    if (date.len & 1) {
        req.body_hash.data = (u_char *) "UNSIGNED-PAYLOAD";
        req.body_hash.len = sizeof("UNSIGNED-PAYLOAD") - 1;

    } else {
        req.body_hash.data = ngx_pnalloc(pool, NGX_HTTP_IOT_IOTDA_HEX_LEN);
        if (req.body_hash.data == NULL) {
            abort();
        }

        ngx_http_iot_iotda_sha256_hex((u_char *) "", 0, req.body_hash.data);
        req.body_hash.len = NGX_HTTP_IOT_IOTDA_HEX_LEN;
    }

    n = ngx_http_iot_iotda_scratch_size(&req);
    offset = method.len ? method.data[0] & 7 : 0;

    scratch = ngx_pnalloc(pool, n + offset);
    if (scratch == NULL) {
        abort();
    }

    scratch += offset;

    if (ngx_http_iot_iotda_canonical_hash(&req, scratch, n, canonical) != 0) {
        ngx_destroy_pool(pool);
        return 0;
    }

    ngx_memset(sk, 'a', sizeof(sk));

    b_date.data = date.data;
    b_date.len = date.len;
    b_sk.data = sk;
    b_sk.len = sizeof(sk);

    if (auth.v11) {
        b_ak.data = auth.ak.data;
        b_ak.len = auth.ak.len;
        b_info.data = auth.info.data;
        b_info.len = auth.info.len;

        if (ngx_http_iot_iotda_v11_key(&b_ak, &b_sk, &b_info, key) == 0) {
            (void) ngx_http_iot_iotda_v11_signature(canonical, &b_date,
                                                    &b_info, key, sig);
        }

    } else {
        (void) ngx_http_iot_iotda_sdk_signature(canonical, &b_date, &b_sk,
                                                sig);
    }

    (void) ngx_http_iot_iotda_equal(sig, auth.signature.data,
                                    NGX_HTTP_IOT_IOTDA_HEX_LEN);

    ngx_destroy_pool(pool);

    return 0;
}
