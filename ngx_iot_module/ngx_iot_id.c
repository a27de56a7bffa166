
/*
 * Copyright (C) nginx-iot authors
 *
 * Identifiers: entity ids (64 random bits shown as 13 base32 characters)
 * and device identities (IMSI, IMEI: 1 to 16 decimal digits, kept as one
 * 64-bit key that remembers the number of digits, so "012" != "12").
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <sys/random.h>
#include "ngx_iot.h"
#include "ngx_iot_id.h"


#define NGX_IOT_IDENT_LEN_SHIFT  56


static u_char  ngx_iot_id_alphabet[] = "0123456789abcdefghijklmnopqrstuv";


ngx_int_t
ngx_iot_random(u_char *buf, size_t len)
{
    ssize_t  n;

    while (len) {
        n = getrandom(buf, len, 0);

        if (n == -1) {
            if (ngx_errno == NGX_EINTR) {
                continue;
            }

            return NGX_ERROR;
        }

        buf += n;
        len -= n;
    }

    return NGX_OK;
}


uint64_t
ngx_iot_id_new(void)
{
    uint64_t  id;

    do {
        if (ngx_iot_random((u_char *) &id, sizeof(id)) != NGX_OK) {
            /* getrandom() does not fail once the pool is initialized */
            id = (uint64_t) ngx_random() << 32 ^ ngx_random() ^ ngx_time();
        }

        /* ids are stored as SQLite's signed 64-bit integers */
        id &= 0x7fffffffffffffffULL;

    } while (id == 0);

    return id;
}


/*
 * A device's id: the milliseconds since the epoch in the high 42 bits (until
 * the year 2109), 21 random bits below.  Devices are the one entity created
 * by the thousand: ids that grow with time put each new row and its index
 * entries at the end of the store's trees, where a batch of writes shares
 * its pages, instead of one random page of each tree per device.  The
 * caller makes sure the id is not taken.
 */

uint64_t
ngx_iot_id_new_ordered(void)
{
    uint32_t  r;

    if (ngx_iot_random((u_char *) &r, sizeof(r)) != NGX_OK) {
        r = (uint32_t) ngx_random();
    }

    return (ngx_iot_now_ms() & NGX_IOT_ID_MS_MASK) << NGX_IOT_ID_RANDOM_BITS
           | (r & ((1U << NGX_IOT_ID_RANDOM_BITS) - 1));
}


u_char *
ngx_iot_id_encode(u_char *p, uint64_t id)
{
    ngx_int_t  i;

    for (i = NGX_IOT_ID_LEN - 1; i >= 0; i--) {
        p[i] = ngx_iot_id_alphabet[id & 0x1f];
        id >>= 5;
    }

    return p + NGX_IOT_ID_LEN;
}


ngx_int_t
ngx_iot_id_decode(u_char *p, size_t len, uint64_t *id)
{
    u_char    c;
    size_t    i;
    uint64_t  v;

    if (len != NGX_IOT_ID_LEN) {
        return NGX_ERROR;
    }

    v = 0;

    for (i = 0; i < len; i++) {
        c = p[i];

        if (c >= '0' && c <= '9') {
            c -= '0';

        } else if (c >= 'a' && c <= 'v') {
            c = c - 'a' + 10;

        } else {
            return NGX_ERROR;
        }

        /* 13 characters hold 65 bits: the first may carry only 3 of them */
        if (i == 0 && c > 7) {
            return NGX_ERROR;
        }

        v = v << 5 | c;
    }

    if (v == 0) {
        return NGX_ERROR;
    }

    *id = v;

    return NGX_OK;
}


ngx_int_t
ngx_iot_ident_decode(u_char *p, size_t len, uint64_t *key)
{
    size_t    i;
    uint64_t  v;

    if (len == 0 || len > NGX_IOT_IDENT_MAX_DIGITS) {
        return NGX_ERROR;
    }

    v = 0;

    for (i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return NGX_ERROR;
        }

        v = v * 10 + (p[i] - '0');
    }

    *key = (uint64_t) len << NGX_IOT_IDENT_LEN_SHIFT | v;

    return NGX_OK;
}


u_char *
ngx_iot_ident_encode(u_char *p, uint64_t key)
{
    size_t    len, i;
    uint64_t  v;

    len = key >> NGX_IOT_IDENT_LEN_SHIFT;
    v = key & ((1ULL << NGX_IOT_IDENT_LEN_SHIFT) - 1);

    for (i = len; i > 0; i--) {
        p[i - 1] = (u_char) ('0' + v % 10);
        v /= 10;
    }

    return p + len;
}


/* the time stamps of the APIs: milliseconds since the epoch */

uint64_t
ngx_iot_now_ms(void)
{
    ngx_time_t  *tp;

    tp = ngx_timeofday();

    return (uint64_t) tp->sec * 1000 + tp->msec;
}


/*
 * UUIDs (RFC 9562): 16 bytes, shown as 36 lowercase characters
 * 8-4-4-4-12; read in either case.  New ones are version 7: the time in
 * milliseconds, then 74 random bits.  Ids made one after another sort
 * together, so that the store's unique index on them takes each new one
 * on the page of the one before rather than on a random page (a write of
 * a page per device with version 4).
 */

ngx_int_t
ngx_iot_uuid_new(u_char *uuid)
{
    uint64_t  ms;

    if (ngx_iot_random(uuid + 6, NGX_IOT_UUID_SIZE - 6) != NGX_OK) {
        return NGX_ERROR;
    }

    ms = ngx_iot_now_ms();

    uuid[0] = (u_char) (ms >> 40);
    uuid[1] = (u_char) (ms >> 32);
    uuid[2] = (u_char) (ms >> 24);
    uuid[3] = (u_char) (ms >> 16);
    uuid[4] = (u_char) (ms >> 8);
    uuid[5] = (u_char) ms;
    uuid[6] = (uuid[6] & 0x0f) | 0x70;
    uuid[8] = (uuid[8] & 0x3f) | 0x80;

    return NGX_OK;
}


u_char *
ngx_iot_uuid_encode(u_char *p, u_char *uuid)
{
    ngx_uint_t  i;

    static u_char  hex[] = "0123456789abcdef";

    for (i = 0; i < NGX_IOT_UUID_SIZE; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) {
            *p++ = '-';
        }

        *p++ = hex[uuid[i] >> 4];
        *p++ = hex[uuid[i] & 0x0f];
    }

    return p;
}


ngx_int_t
ngx_iot_uuid_decode(u_char *p, size_t len, u_char *uuid)
{
    u_char      c, v;
    size_t      i;
    ngx_uint_t  n;

    if (len != NGX_IOT_UUID_LEN) {
        return NGX_ERROR;
    }

    n = 0;

    for (i = 0; i < len; i++) {
        c = p[i];

        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-') {
                return NGX_ERROR;
            }

            continue;
        }

        if (c >= '0' && c <= '9') {
            v = c - '0';

        } else {
            c |= 0x20;

            if (c < 'a' || c > 'f') {
                return NGX_ERROR;
            }

            v = c - 'a' + 10;
        }

        if (n & 1) {
            uuid[n / 2] |= v;

        } else {
            uuid[n / 2] = v << 4;
        }

        n++;
    }

    return NGX_OK;
}


ngx_uint_t
ngx_iot_uuid_is_nil(u_char *uuid)
{
    ngx_uint_t  i;

    for (i = 0; i < NGX_IOT_UUID_SIZE; i++) {
        if (uuid[i]) {
            return 0;
        }
    }

    return 1;
}


/* hex digits, either case, into len / 2 bytes */

ngx_int_t
ngx_iot_hex_decode(u_char *dst, u_char *src, size_t len)
{
    u_char  c, v;
    size_t  i;

    if (len % 2) {
        return NGX_ERROR;
    }

    for (i = 0; i < len; i++) {
        c = src[i];

        if (c >= '0' && c <= '9') {
            v = c - '0';

        } else {
            c |= 0x20;

            if (c < 'a' || c > 'f') {
                return NGX_ERROR;
            }

            v = c - 'a' + 10;
        }

        if (i & 1) {
            dst[i / 2] |= v;

        } else {
            dst[i / 2] = v << 4;
        }
    }

    return NGX_OK;
}
