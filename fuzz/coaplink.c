
/*
 * Copyright (C) nginx-iot authors
 *
 * The CoAP link's frames (ngx_iot_coaplink.c), as the stream adapter
 * (ngx_stream_iot_coap.c) and the sidecar take them off loopback UDP.
 * The input is tried twice: as a datagram as it came (the MAC, the magic,
 * the version and the time window refuse nearly all of it), and as a
 * frame without its MAC, signed here with the test secret and read at
 * the frame's own time, so that the field parser runs on everything.  A
 * frame that parses is built again and must read back the same
 * (an invariant).
 */


#include "ngx_fuzz.h"
#include <openssl/hmac.h>
#include <openssl/evp.h>
#include "ngx_iot_coaplink.h"


static ngx_str_t  ngx_fuzz_secret = ngx_string("coap-link-fuzz-secret");


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    ngx_fuzz_init();
    return 0;
}


static void
ngx_fuzz_coaplink_same(ngx_str_t *a, ngx_str_t *b)
{
    if (a->len != b->len
        || (a->len && ngx_memcmp(a->data, b->data, a->len) != 0))
    {
        abort();
    }
}


static void
ngx_fuzz_coaplink_use(ngx_iot_coaplink_frame_t *f, uint64_t now)
{
    u_char                     out[NGX_IOT_COAPLINK_MAX_LEN];
    size_t                     n;
    socklen_t                  len;
    const char                *why;
    ngx_sockaddr_t             sa;
    ngx_iot_coaplink_frame_t   again;

    len = ngx_iot_coaplink_sockaddr(f, &sa.sockaddr);
    if (len > sizeof(ngx_sockaddr_t)) {
        abort();
    }

    n = ngx_iot_coaplink_build(f, &ngx_fuzz_secret, out);
    if (n == 0) {
        return;
    }

    if (n > NGX_IOT_COAPLINK_MAX_LEN
        || ngx_iot_coaplink_parse(out, n, &ngx_fuzz_secret, now, &again,
                                  &why)
           != NGX_OK
        || again.size != n)
    {
        abort();
    }

    if (again.type != f->type || again.seq != f->seq
        || again.result != f->result
        || (f->code > 0 ? again.code != f->code : again.code != -1)
        || again.has_addr != f->has_addr
        || (f->has_addr && (again.port != f->port
                            || again.family != f->family))
        || again.downlink != f->downlink || again.device != f->device
        || again.local_port != f->local_port)
    {
        abort();
    }

    ngx_fuzz_coaplink_same(&again.identity, &f->identity);
    ngx_fuzz_coaplink_same(&again.method, &f->method);
    ngx_fuzz_coaplink_same(&again.path, &f->path);
    ngx_fuzz_coaplink_same(&again.payload, &f->payload);
    ngx_fuzz_coaplink_same(&again.key, &f->key);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char                    *buf;
    size_t                     i;
    uint64_t                   now;
    unsigned int               maclen;
    const char                *why;
    ngx_iot_coaplink_frame_t   f;

    if (size > NGX_IOT_COAPLINK_MAX_LEN) {
        return 0;
    }

    buf = malloc(size + NGX_IOT_COAPLINK_MAC_LEN);
    if (buf == NULL) {
        return 0;
    }

    /* as it came, read now: a datagram, frame after frame */

    ngx_memcpy(buf, data, size);
    now = (uint64_t) ngx_time() * 1000;

    for (i = 0; i < size; i += f.size) {
        if (ngx_iot_coaplink_parse(buf + i, size - i, &ngx_fuzz_secret, now,
                                   &f, &why)
            != NGX_OK)
        {
            break;
        }

        if (f.size == 0 || f.size > size - i) {
            abort();
        }

        ngx_fuzz_coaplink_use(&f, now);
    }

    /* signed, and read at its own time */

    if (size >= NGX_IOT_COAPLINK_HEADER_LEN
        && size + NGX_IOT_COAPLINK_MAC_LEN <= NGX_IOT_COAPLINK_MAX_LEN)
    {
        ngx_memcpy(buf, data, size);

        /* its length as the header says it (the rest is the input's) */
        buf[6] = (u_char) ((size + NGX_IOT_COAPLINK_MAC_LEN) >> 8);
        buf[7] = (u_char) (size + NGX_IOT_COAPLINK_MAC_LEN);

        for (now = 0, i = 12; i < 20; i++) {
            now = now << 8 | buf[i];
        }

        maclen = NGX_IOT_COAPLINK_MAC_LEN;

        if (HMAC(EVP_sha256(), ngx_fuzz_secret.data,
                 (int) ngx_fuzz_secret.len, buf, size, buf + size, &maclen)
            != NULL
            && ngx_iot_coaplink_parse(buf, size + NGX_IOT_COAPLINK_MAC_LEN,
                                      &ngx_fuzz_secret, now, &f, &why)
               == NGX_OK)
        {
            ngx_fuzz_coaplink_use(&f, now);
        }
    }

    free(buf);

    return 0;
}
