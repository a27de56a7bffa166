
/*
 * Copyright (C) nginx-iot authors
 *
 * The CoAP link codec (ngx_iot_coaplink.h): pure functions, no sockets.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>
#include "ngx_iot_coaplink.h"


static ngx_int_t ngx_iot_coaplink_mac(ngx_str_t *secret, u_char *data,
    size_t len, u_char *mac);
static u_char *ngx_iot_coaplink_field(u_char *p, u_char *end,
    ngx_uint_t tag, u_char *value, size_t len);


/* the HMAC's keyed context, kept by the process (freed at its exit) */
static EVP_MAC_CTX  *ngx_iot_coaplink_ctx;


/*
 * HMAC-SHA256 with the secret.  The keyed context is kept for the next
 * frame with the same secret: OpenSSL 3's one-shot HMAC() looks the digest
 * up and sets the key up for every frame, which cost about as much as the
 * rest of a frame.
 */

static ngx_int_t
ngx_iot_coaplink_mac(ngx_str_t *secret, u_char *data, size_t len,
    u_char *mac)
{
    size_t        n;
    EVP_MAC      *m;
    OSSL_PARAM    params[2];
    EVP_MAC_CTX  *ctx;
    unsigned int  hn;

    static u_char        key[1024];
    static size_t        key_len;

    if (secret->len == 0 || secret->len > sizeof(key)) {
        hn = NGX_IOT_COAPLINK_MAC_LEN;

        if (HMAC(EVP_sha256(), secret->data, (int) secret->len, data, len,
                 mac, &hn)
            == NULL || hn != NGX_IOT_COAPLINK_MAC_LEN)
        {
            return NGX_ERROR;
        }

        return NGX_OK;
    }

    if (ngx_iot_coaplink_ctx == NULL) {
        m = EVP_MAC_fetch(NULL, "HMAC", NULL);
        if (m == NULL) {
            return NGX_ERROR;
        }

        ngx_iot_coaplink_ctx = EVP_MAC_CTX_new(m);
        EVP_MAC_free(m);

        if (ngx_iot_coaplink_ctx == NULL) {
            return NGX_ERROR;
        }
    }

    ctx = ngx_iot_coaplink_ctx;

    if (key_len != secret->len
        || ngx_memcmp(key, secret->data, secret->len) != 0)
    {
        key_len = 0;

        params[0] = OSSL_PARAM_construct_utf8_string("digest",
                                                     (char *) "SHA256", 0);
        params[1] = OSSL_PARAM_construct_end();

        if (!EVP_MAC_init(ctx, secret->data, secret->len, params)) {
            return NGX_ERROR;
        }

        ngx_memcpy(key, secret->data, secret->len);
        key_len = secret->len;

    } else if (!EVP_MAC_init(ctx, NULL, 0, NULL)) {
        /* no key: the one set up last */
        return NGX_ERROR;
    }

    if (!EVP_MAC_update(ctx, data, len)
        || !EVP_MAC_final(ctx, mac, &n, NGX_IOT_COAPLINK_MAC_LEN)
        || n != NGX_IOT_COAPLINK_MAC_LEN)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * At a process's exit: the kept context freed (the module is unloaded
 * then, and a context nobody points to is a leak to valgrind).
 */

void
ngx_iot_coaplink_exit_process(void)
{
    EVP_MAC_CTX_free(ngx_iot_coaplink_ctx);
    ngx_iot_coaplink_ctx = NULL;
}


ngx_int_t
ngx_iot_coaplink_parse(u_char *data, size_t len, ngx_str_t *secret,
    uint64_t now, ngx_iot_coaplink_frame_t *f, const char **why)
{
    u_char      *p, *end, *v;
    size_t       n;
    uint64_t     id;
    ngx_uint_t   tag, i;
    u_char       mac[NGX_IOT_COAPLINK_MAC_LEN];

    ngx_memzero(f, sizeof(ngx_iot_coaplink_frame_t));
    f->result = -1;
    f->code = -1;

    if (len < NGX_IOT_COAPLINK_HEADER_LEN + NGX_IOT_COAPLINK_MAC_LEN) {
        *why = "bad length";
        return NGX_ERROR;
    }

    if (ngx_memcmp(data, "IoTC", 4) != 0
        || data[4] != NGX_IOT_COAPLINK_VERSION)
    {
        *why = "not a link frame of version 2";
        return NGX_ERROR;
    }

    n = ((size_t) data[6] << 8) | data[7];

    if (n < NGX_IOT_COAPLINK_HEADER_LEN + NGX_IOT_COAPLINK_MAC_LEN
        || n > NGX_IOT_COAPLINK_MAX_LEN || n > len)
    {
        *why = "bad length";
        return NGX_ERROR;
    }

    len = n;
    f->size = n;

    /* nothing is believed before the MAC is */

    end = data + len - NGX_IOT_COAPLINK_MAC_LEN;

    if (ngx_iot_coaplink_mac(secret, data, end - data, mac) != NGX_OK) {
        *why = "HMAC-SHA256 failed";
        return NGX_ERROR;
    }

    if (CRYPTO_memcmp(mac, end, NGX_IOT_COAPLINK_MAC_LEN) != 0) {
        *why = "bad HMAC (not the shared secret)";
        return NGX_ERROR;
    }

    f->type = data[5];
    f->seq = ((uint32_t) data[8] << 24) | ((uint32_t) data[9] << 16)
             | ((uint32_t) data[10] << 8) | data[11];

    for (i = 12; i < 20; i++) {
        f->time = (f->time << 8) | data[i];
    }

    if (f->time + NGX_IOT_COAPLINK_SKEW < now
        || f->time > now + NGX_IOT_COAPLINK_SKEW)
    {
        *why = "frame too old or from the future";
        return NGX_ERROR;
    }

    p = data + NGX_IOT_COAPLINK_HEADER_LEN;

    while (p < end) {
        if (end - p < 3) {
            *why = "truncated field";
            return NGX_ERROR;
        }

        tag = p[0];
        n = ((size_t) p[1] << 8) | p[2];
        v = p + 3;

        if ((size_t) (end - v) < n) {
            *why = "field longer than the frame";
            return NGX_ERROR;
        }

        p = v + n;

        switch (tag) {

        case NGX_IOT_COAPLINK_ADDR:
            if (n == 7 && v[0] == 4) {
                f->family = AF_INET;
                ngx_memcpy(f->addr, v + 3, 4);

            } else if (n == 19 && v[0] == 6) {
                f->family = AF_INET6;
                ngx_memcpy(f->addr, v + 3, 16);

            } else {
                *why = "bad address field";
                return NGX_ERROR;
            }

            f->port = ((ngx_uint_t) v[1] << 8) | v[2];
            f->has_addr = 1;
            break;

        case NGX_IOT_COAPLINK_IDENTITY:
            f->identity.data = v;
            f->identity.len = n;
            break;

        case NGX_IOT_COAPLINK_METHOD:
            f->method.data = v;
            f->method.len = n;
            break;

        case NGX_IOT_COAPLINK_PATH:
            f->path.data = v;
            f->path.len = n;
            break;

        case NGX_IOT_COAPLINK_PAYLOAD:
            f->payload.data = v;
            f->payload.len = n;
            break;

        case NGX_IOT_COAPLINK_RESULT:
            if (n != 1) {
                *why = "bad result field";
                return NGX_ERROR;
            }

            f->result = v[0];
            break;

        case NGX_IOT_COAPLINK_DOWNLINK:
        case NGX_IOT_COAPLINK_DEVICE:
            if (n != 8) {
                *why = "bad id field";
                return NGX_ERROR;
            }

            id = 0;

            for (i = 0; i < 8; i++) {
                id = (id << 8) | v[i];
            }

            if (tag == NGX_IOT_COAPLINK_DOWNLINK) {
                f->downlink = id;

            } else {
                f->device = id;
            }

            break;

        case NGX_IOT_COAPLINK_CODE:
            if (n != 1) {
                *why = "bad code field";
                return NGX_ERROR;
            }

            f->code = v[0];
            break;

        case NGX_IOT_COAPLINK_KEYDATA:
            f->key.data = v;
            f->key.len = n;
            break;

        case NGX_IOT_COAPLINK_LOCAL_PORT:
            if (n != 2) {
                *why = "bad local port field";
                return NGX_ERROR;
            }

            f->local_port = ((ngx_uint_t) v[0] << 8) | v[1];
            break;

        default:
            /* a later version's field: skipped */
            break;
        }
    }

    return NGX_OK;
}


static u_char *
ngx_iot_coaplink_field(u_char *p, u_char *end, ngx_uint_t tag,
    u_char *value, size_t len)
{
    if (p == NULL || len > 0xffff || (size_t) (end - p) < 3 + len) {
        return NULL;
    }

    *p++ = (u_char) tag;
    *p++ = (u_char) (len >> 8);
    *p++ = (u_char) len;

    return ngx_cpymem(p, value, len);
}


size_t
ngx_iot_coaplink_build(ngx_iot_coaplink_frame_t *f, ngx_str_t *secret,
    u_char *out)
{
    u_char      *p, *end;
    size_t       len;
    ngx_uint_t   i;
    u_char       v[19];

    end = out + NGX_IOT_COAPLINK_MAX_LEN - NGX_IOT_COAPLINK_MAC_LEN;

    p = ngx_cpymem(out, "IoTC", 4);
    *p++ = NGX_IOT_COAPLINK_VERSION;
    *p++ = (u_char) f->type;
    *p++ = 0;                         /* the length, below */
    *p++ = 0;
    *p++ = (u_char) (f->seq >> 24);
    *p++ = (u_char) (f->seq >> 16);
    *p++ = (u_char) (f->seq >> 8);
    *p++ = (u_char) f->seq;

    for (i = 0; i < 8; i++) {
        *p++ = (u_char) (f->time >> (56 - 8 * i));
    }

    if (f->result >= 0) {
        v[0] = (u_char) f->result;
        p = ngx_iot_coaplink_field(p, end, NGX_IOT_COAPLINK_RESULT, v, 1);
    }

    /* 0.00 is no response code: a frame that carries none (-1 or 0) */

    if (f->code > 0) {
        v[0] = (u_char) f->code;
        p = ngx_iot_coaplink_field(p, end, NGX_IOT_COAPLINK_CODE, v, 1);
    }

    if (f->has_addr) {
        v[0] = (f->family == AF_INET6) ? 6 : 4;
        v[1] = (u_char) (f->port >> 8);
        v[2] = (u_char) f->port;
        ngx_memcpy(v + 3, f->addr, (f->family == AF_INET6) ? 16 : 4);
        p = ngx_iot_coaplink_field(p, end, NGX_IOT_COAPLINK_ADDR, v,
                                   (f->family == AF_INET6) ? 19 : 7);
    }

    if (f->local_port) {
        v[0] = (u_char) (f->local_port >> 8);
        v[1] = (u_char) f->local_port;
        p = ngx_iot_coaplink_field(p, end, NGX_IOT_COAPLINK_LOCAL_PORT, v, 2);
    }

    if (f->downlink) {
        for (i = 0; i < 8; i++) {
            v[i] = (u_char) (f->downlink >> (56 - 8 * i));
        }

        p = ngx_iot_coaplink_field(p, end, NGX_IOT_COAPLINK_DOWNLINK, v, 8);
    }

    if (f->device) {
        for (i = 0; i < 8; i++) {
            v[i] = (u_char) (f->device >> (56 - 8 * i));
        }

        p = ngx_iot_coaplink_field(p, end, NGX_IOT_COAPLINK_DEVICE, v, 8);
    }

    if (f->identity.len) {
        p = ngx_iot_coaplink_field(p, end, NGX_IOT_COAPLINK_IDENTITY,
                                   f->identity.data, f->identity.len);
    }

    if (f->method.len) {
        p = ngx_iot_coaplink_field(p, end, NGX_IOT_COAPLINK_METHOD,
                                   f->method.data, f->method.len);
    }

    if (f->path.len) {
        p = ngx_iot_coaplink_field(p, end, NGX_IOT_COAPLINK_PATH,
                                   f->path.data, f->path.len);
    }

    if (f->payload.data) {
        p = ngx_iot_coaplink_field(p, end, NGX_IOT_COAPLINK_PAYLOAD,
                                   f->payload.data, f->payload.len);
    }

    if (f->key.len) {
        p = ngx_iot_coaplink_field(p, end, NGX_IOT_COAPLINK_KEYDATA,
                                   f->key.data, f->key.len);
    }

    if (p == NULL) {
        return 0;
    }

    len = p - out + NGX_IOT_COAPLINK_MAC_LEN;

    out[6] = (u_char) (len >> 8);
    out[7] = (u_char) len;

    if (ngx_iot_coaplink_mac(secret, out, p - out, p) != NGX_OK) {
        return 0;
    }

    return len;
}


socklen_t
ngx_iot_coaplink_sockaddr(ngx_iot_coaplink_frame_t *f, struct sockaddr *sa)
{
    struct sockaddr_in   *sin;
#if (NGX_HAVE_INET6)
    struct sockaddr_in6  *sin6;
#endif

    if (f->family == AF_INET) {
        sin = (struct sockaddr_in *) sa;
        ngx_memzero(sin, sizeof(struct sockaddr_in));
        sin->sin_family = AF_INET;
        sin->sin_port = htons((in_port_t) f->port);
        ngx_memcpy(&sin->sin_addr, f->addr, 4);
        return sizeof(struct sockaddr_in);
    }

#if (NGX_HAVE_INET6)
    sin6 = (struct sockaddr_in6 *) sa;
    ngx_memzero(sin6, sizeof(struct sockaddr_in6));
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons((in_port_t) f->port);
    ngx_memcpy(&sin6->sin6_addr, f->addr, 16);
    return sizeof(struct sockaddr_in6);
#else
    return 0;
#endif
}
