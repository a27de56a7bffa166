
/*
 * Copyright (C) nginx-iot authors
 *
 * The signatures of the Huawei Cloud SDKs, over a request as received.
 * The canonical request, lines joined by "\n":
 *
 *     method
 *     the path, each segment decoded once and encoded again (only
 *         A-Z a-z 0-9 - _ . ~ bare), ending in "/"
 *     the query, each pair decoded and encoded the same way, sorted by
 *         key then value, k=v joined by "&"
 *     name:value of each signed header, in the list's order, each line
 *         ending in "\n"
 *     the signed headers list
 *     the hex SHA-256 of the body
 *
 * The wire forms of the SDKs differ (order, what they leave bare), so the
 * canonical form is made here again, never taken as sent.  Plain C and
 * OpenSSL: t/60-iotda-sign.t builds this file alone.
 */


#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#if (OPENSSL_VERSION_NUMBER >= 0x30000000L)
#include <openssl/core_names.h>
#include <openssl/params.h>
#endif
#include "ngx_http_iot_iotda_sign.h"


typedef struct {
    unsigned char                  *key;
    size_t                          key_len;
    unsigned char                  *value;
    size_t                          value_len;
} ngx_http_iot_iotda_pair_t;


static size_t ngx_http_iot_iotda_decode(unsigned char *dst,
    const unsigned char *src, size_t len);
static unsigned char *ngx_http_iot_iotda_encode(unsigned char *dst,
    const unsigned char *src, size_t len);
static int ngx_http_iot_iotda_pair_cmp(const void *one, const void *two);
static void ngx_http_iot_iotda_hex(unsigned char *dst,
    const unsigned char *src, size_t len);
static const EVP_MD *ngx_http_iot_iotda_sha256(void);
#if (OPENSSL_VERSION_NUMBER >= 0x30000000L)
static EVP_MAC_CTX *ngx_http_iot_iotda_hmac_ctx(void);
#endif


static const unsigned char  ngx_http_iot_iotda_digits[] = "0123456789ABCDEF";


size_t
ngx_http_iot_iotda_scratch_size(ngx_http_iot_iotda_request_t *req)
{
    size_t  size, i, pairs;

    pairs = 1;

    for (i = 0; i < req->query.len; i++) {
        if (req->query.data[i] == '&') {
            pairs++;
        }
    }

    size = req->method.len + 1
           + 3 * req->path.len + 2
           + 4 * req->query.len + 2 * pairs + 1
           + 2 * req->signed_headers.len + 2
           + req->body_hash.len + 1
           + pairs * sizeof(ngx_http_iot_iotda_pair_t) + 16;

    for (i = 0; i < req->nvalues; i++) {
        size += req->values[i].len + 2;
    }

    return size;
}


int
ngx_http_iot_iotda_canonical_hash(ngx_http_iot_iotda_request_t *req,
    unsigned char *scratch, size_t size, unsigned char *hex)
{
    size_t                      i, n, npairs, len;
    unsigned char              *p, *last, *start, *eq, *end, *text;
    unsigned char              *seg, *v;
    ngx_http_iot_iotda_pair_t  *pairs, *pair;

    if (size < ngx_http_iot_iotda_scratch_size(req)) {
        return -1;
    }

    /* the pairs first, aligned, then their decoded text, then the request */

    n = 1;

    for (i = 0; i < req->query.len; i++) {
        if (req->query.data[i] == '&') {
            n++;
        }
    }

    /* scratch may start at any byte (ngx_pnalloc): its 16 spare bytes */

    pairs = (ngx_http_iot_iotda_pair_t *)
            (((uintptr_t) scratch + sizeof(size_t) - 1)
             & ~((uintptr_t) sizeof(size_t) - 1));
    p = (unsigned char *) (pairs + n);
    npairs = 0;

    start = req->query.data;
    last = req->query.data + req->query.len;

    while (start < last) {

        for (end = start; end < last && *end != '&'; end++) {
            /* void */
        }

        if (end > start) {
            pair = &pairs[npairs++];

            for (eq = start; eq < end && *eq != '='; eq++) {
                /* void */
            }

            pair->key = p;
            pair->key_len = ngx_http_iot_iotda_decode(p, start, eq - start);
            p += pair->key_len;

            pair->value = p;
            pair->value_len = (eq < end)
                ? ngx_http_iot_iotda_decode(p, eq + 1, end - eq - 1) : 0;
            p += pair->value_len;
        }

        start = end + 1;
    }

    qsort(pairs, npairs, sizeof(ngx_http_iot_iotda_pair_t),
          ngx_http_iot_iotda_pair_cmp);

    text = p;

    /* the method */

    memcpy(p, req->method.data, req->method.len);
    p += req->method.len;
    *p++ = '\n';

    /* the path: its segments decoded once, encoded again */

    start = req->path.data;
    last = req->path.data + req->path.len;
    seg = p;

    for ( ;; ) {
        for (end = start; end < last && *end != '/'; end++) {
            /* void */
        }

            /*
         * decoded behind where it is encoded to: the encoding never
         * catches up with what it reads (3 bytes out per byte in)
         */

        v = p + 2 * (end - start);
        len = ngx_http_iot_iotda_decode(v, start, end - start);
        p = ngx_http_iot_iotda_encode(p, v, len);

        if (end == last) {
            break;
        }

        *p++ = '/';
        start = end + 1;
    }

    if (p == seg || p[-1] != '/') {
        *p++ = '/';
    }

    *p++ = '\n';

    /* the query */

    for (i = 0; i < npairs; i++) {
        if (i) {
            *p++ = '&';
        }

        p = ngx_http_iot_iotda_encode(p, pairs[i].key, pairs[i].key_len);
        *p++ = '=';
        p = ngx_http_iot_iotda_encode(p, pairs[i].value, pairs[i].value_len);
    }

    *p++ = '\n';

    /* the signed headers, name:value each */

    start = req->signed_headers.data;
    last = req->signed_headers.data + req->signed_headers.len;
    n = 0;

    while (start <= last) {
        for (end = start; end < last && *end != ';'; end++) {
            /* void */
        }

        if (n == req->nvalues) {
            return -1;
        }

        memcpy(p, start, end - start);
        p += end - start;
        *p++ = ':';

        v = req->values[n].data;
        len = req->values[n].len;

        while (len && (*v == ' ' || *v == '\t')) {
            v++;
            len--;
        }

        while (len && (v[len - 1] == ' ' || v[len - 1] == '\t')) {
            len--;
        }

        memcpy(p, v, len);
        p += len;
        *p++ = '\n';

        n++;
        start = end + 1;
    }

    if (n != req->nvalues) {
        return -1;
    }

    *p++ = '\n';

    memcpy(p, req->signed_headers.data, req->signed_headers.len);
    p += req->signed_headers.len;
    *p++ = '\n';

    memcpy(p, req->body_hash.data, req->body_hash.len);
    p += req->body_hash.len;

    ngx_http_iot_iotda_sha256_hex(text, p - text, hex);

    return 0;
}


/* %XX decoded once; a "%" not followed by two hex digits stays */

static size_t
ngx_http_iot_iotda_decode(unsigned char *dst, const unsigned char *src,
    size_t len)
{
    size_t          i, n;
    unsigned char   c, h, l;

    n = 0;

    for (i = 0; i < len; i++) {
        c = src[i];

        if (c == '%' && i + 2 < len) {
            h = src[i + 1];
            l = src[i + 2];

            h = (h >= '0' && h <= '9') ? h - '0'
                : ((h | 0x20) >= 'a' && (h | 0x20) <= 'f')
                  ? (h | 0x20) - 'a' + 10 : 0xff;
            l = (l >= '0' && l <= '9') ? l - '0'
                : ((l | 0x20) >= 'a' && (l | 0x20) <= 'f')
                  ? (l | 0x20) - 'a' + 10 : 0xff;

            if (h != 0xff && l != 0xff) {
                dst[n++] = (unsigned char) (h << 4 | l);
                i += 2;
                continue;
            }
        }

        dst[n++] = c;
    }

    return n;
}


static unsigned char *
ngx_http_iot_iotda_encode(unsigned char *dst, const unsigned char *src,
    size_t len)
{
    size_t         i;
    unsigned char  c;

    for (i = 0; i < len; i++) {
        c = src[i];

        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
            || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'
            || c == '~')
        {
            *dst++ = c;
            continue;
        }

        *dst++ = '%';
        *dst++ = ngx_http_iot_iotda_digits[c >> 4];
        *dst++ = ngx_http_iot_iotda_digits[c & 0x0f];
    }

    return dst;
}


static int
ngx_http_iot_iotda_pair_cmp(const void *one, const void *two)
{
    int                               rc;
    size_t                            n;
    const ngx_http_iot_iotda_pair_t  *a = one, *b = two;

    n = a->key_len < b->key_len ? a->key_len : b->key_len;
    rc = memcmp(a->key, b->key, n);

    if (rc || a->key_len != b->key_len) {
        return rc ? rc : (a->key_len < b->key_len ? -1 : 1);
    }

    n = a->value_len < b->value_len ? a->value_len : b->value_len;
    rc = memcmp(a->value, b->value, n);

    if (rc || a->value_len == b->value_len) {
        return rc;
    }

    return a->value_len < b->value_len ? -1 : 1;
}


int
ngx_http_iot_iotda_sdk_signature(unsigned char *canonical_hex,
    ngx_http_iot_iotda_bytes_t *date, ngx_http_iot_iotda_bytes_t *sk,
    unsigned char *hex)
{
    size_t         len;
    unsigned char  sts[sizeof("SDK-HMAC-SHA256\n\n") + 64
                       + NGX_HTTP_IOT_IOTDA_HEX_LEN];
    unsigned char *p;

    if (date->len > 64) {
        return -1;
    }

    p = sts;
    len = sizeof("SDK-HMAC-SHA256\n") - 1;
    memcpy(p, "SDK-HMAC-SHA256\n", len);
    p += len;
    memcpy(p, date->data, date->len);
    p += date->len;
    *p++ = '\n';
    memcpy(p, canonical_hex, NGX_HTTP_IOT_IOTDA_HEX_LEN);
    p += NGX_HTTP_IOT_IOTDA_HEX_LEN;

    return ngx_http_iot_iotda_hmac_hex(sk->data, sk->len, sts, p - sts, hex);
}


int
ngx_http_iot_iotda_v11_key(ngx_http_iot_iotda_bytes_t *ak,
    ngx_http_iot_iotda_bytes_t *sk, ngx_http_iot_iotda_bytes_t *info,
    unsigned char *key_hex)
{
    int             rc;
    size_t          len;
    unsigned char   key[32];
    EVP_PKEY_CTX   *pctx;

    pctx = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, NULL);
    if (pctx == NULL) {
        return -1;
    }

    len = sizeof(key);

    rc = (EVP_PKEY_derive_init(pctx) > 0
          && EVP_PKEY_CTX_set_hkdf_md(pctx, ngx_http_iot_iotda_sha256()) > 0
          && EVP_PKEY_CTX_set1_hkdf_salt(pctx, ak->data, (int) ak->len) > 0
          && EVP_PKEY_CTX_set1_hkdf_key(pctx, sk->data, (int) sk->len) > 0
          && EVP_PKEY_CTX_add1_hkdf_info(pctx, info->data, (int) info->len)
             > 0
          && EVP_PKEY_derive(pctx, key, &len) > 0
          && len == sizeof(key))
         ? 0 : -1;

    EVP_PKEY_CTX_free(pctx);

    if (rc == 0) {
        ngx_http_iot_iotda_hex(key_hex, key, sizeof(key));
    }

    OPENSSL_cleanse(key, sizeof(key));

    return rc;
}


int
ngx_http_iot_iotda_v11_signature(unsigned char *canonical_hex,
    ngx_http_iot_iotda_bytes_t *date, ngx_http_iot_iotda_bytes_t *info,
    unsigned char *key_hex, unsigned char *hex)
{
    size_t         len;
    unsigned char  sts[sizeof("V11-HMAC-SHA256\n\n\n") + 64 + 256
                       + NGX_HTTP_IOT_IOTDA_HEX_LEN];
    unsigned char *p;

    if (date->len > 64 || info->len > 256) {
        return -1;
    }

    p = sts;
    len = sizeof("V11-HMAC-SHA256\n") - 1;
    memcpy(p, "V11-HMAC-SHA256\n", len);
    p += len;
    memcpy(p, date->data, date->len);
    p += date->len;
    *p++ = '\n';
    memcpy(p, info->data, info->len);
    p += info->len;
    *p++ = '\n';
    memcpy(p, canonical_hex, NGX_HTTP_IOT_IOTDA_HEX_LEN);
    p += NGX_HTTP_IOT_IOTDA_HEX_LEN;

    return ngx_http_iot_iotda_hmac_hex(key_hex, NGX_HTTP_IOT_IOTDA_HEX_LEN,
                                       sts, p - sts, hex);
}


void
ngx_http_iot_iotda_sha256_hex(const unsigned char *data, size_t len,
    unsigned char *hex)
{
    unsigned int   n;
    unsigned char  md[EVP_MAX_MD_SIZE];

    n = 0;
    (void) EVP_Digest(data, len, md, &n, ngx_http_iot_iotda_sha256(), NULL);

    ngx_http_iot_iotda_hex(hex, md, 32);
}


int
ngx_http_iot_iotda_hmac_hex(const unsigned char *key, size_t key_len,
    const unsigned char *data, size_t len, unsigned char *hex)
{
    int            ok;
    unsigned int   n;
    unsigned char  md[EVP_MAX_MD_SIZE];
#if (OPENSSL_VERSION_NUMBER >= 0x30000000L)
    size_t         out;
    EVP_MAC_CTX   *tmpl, *ctx;

    tmpl = ngx_http_iot_iotda_hmac_ctx();

    if (tmpl) {
        /* a copy of the one made, keyed for this message */

        ctx = EVP_MAC_CTX_dup(tmpl);
        if (ctx == NULL) {
            return -1;
        }

        out = 0;
        ok = EVP_MAC_init(ctx, key, key_len, NULL) == 1
             && EVP_MAC_update(ctx, data, len) == 1
             && EVP_MAC_final(ctx, md, &out, sizeof(md)) == 1
             && out == 32;

        EVP_MAC_CTX_free(ctx);

        if (ok) {
            ngx_http_iot_iotda_hex(hex, md, 32);
        }

        OPENSSL_cleanse(md, sizeof(md));

        return ok ? 0 : -1;
    }
#endif

    n = 0;

    ok = HMAC(ngx_http_iot_iotda_sha256(), key, (int) key_len, data, len,
              md, &n) != NULL
         && n == 32;

    if (ok) {
        ngx_http_iot_iotda_hex(hex, md, 32);
    }

    OPENSSL_cleanse(md, sizeof(md));

    return ok ? 0 : -1;
}


/*
 * SHA-256, and HMAC-SHA256 without its key, made once a process: named
 * by EVP_sha256() or HMAC(), OpenSSL 3 looks the algorithms up again at
 * every call, and a signed request hashes four times or more.  Threads
 * may race to make them first: one keeps its own, the others free
 * theirs.  ngx_http_iot_iotda_sign_free() lets them go at the process's
 * exit.
 */

#if (OPENSSL_VERSION_NUMBER >= 0x30000000L)

static EVP_MD       *ngx_http_iot_iotda_md;
static EVP_MAC_CTX  *ngx_http_iot_iotda_mac;


static const EVP_MD *
ngx_http_iot_iotda_sha256(void)
{
    EVP_MD  *md, *none;

    md = __atomic_load_n(&ngx_http_iot_iotda_md, __ATOMIC_ACQUIRE);
    if (md) {
        return md;
    }

    md = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (md == NULL) {
        return EVP_sha256();
    }

    none = NULL;

    if (!__atomic_compare_exchange_n(&ngx_http_iot_iotda_md, &none, md, 0,
                                     __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
    {
        EVP_MD_free(md);
        return none;
    }

    return md;
}


/* keyed once with a byte (a copy of an HMAC never keyed cannot be made) */

static EVP_MAC_CTX *
ngx_http_iot_iotda_hmac_ctx(void)
{
    EVP_MAC      *mac;
    OSSL_PARAM    params[2];
    EVP_MAC_CTX  *ctx, *none;

    static const unsigned char  byte[1] = { 0 };

    ctx = __atomic_load_n(&ngx_http_iot_iotda_mac, __ATOMIC_ACQUIRE);
    if (ctx) {
        return ctx;
    }

    mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (mac == NULL) {
        return NULL;
    }

    ctx = EVP_MAC_CTX_new(mac);
    EVP_MAC_free(mac);

    if (ctx == NULL) {
        return NULL;
    }

    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                 (char *) "SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();

    if (EVP_MAC_init(ctx, byte, sizeof(byte), params) != 1) {
        EVP_MAC_CTX_free(ctx);
        return NULL;
    }

    none = NULL;

    if (!__atomic_compare_exchange_n(&ngx_http_iot_iotda_mac, &none, ctx, 0,
                                     __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
    {
        EVP_MAC_CTX_free(ctx);
        return none;
    }

    return ctx;
}


void
ngx_http_iot_iotda_sign_free(void)
{
    EVP_MD_free(ngx_http_iot_iotda_md);
    EVP_MAC_CTX_free(ngx_http_iot_iotda_mac);

    ngx_http_iot_iotda_md = NULL;
    ngx_http_iot_iotda_mac = NULL;
}

#else

static const EVP_MD *
ngx_http_iot_iotda_sha256(void)
{
    return EVP_sha256();
}


void
ngx_http_iot_iotda_sign_free(void)
{
}

#endif


int
ngx_http_iot_iotda_equal(const unsigned char *a, const unsigned char *b,
    size_t len)
{
    return CRYPTO_memcmp(a, b, len) == 0;
}


/* lower-case hex, as the SDKs write signatures */

static void
ngx_http_iot_iotda_hex(unsigned char *dst, const unsigned char *src,
    size_t len)
{
    static const unsigned char  digits[] = "0123456789abcdef";

    while (len--) {
        *dst++ = digits[*src >> 4];
        *dst++ = digits[*src++ & 0x0f];
    }
}
