
/*
 * Copyright (C) nginx-iot authors
 *
 * Secrets in URLs kept out of logs (ngx_http_iot.h).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_iot.h"


#define NGX_HTTP_IOT_REDACTED  "[redacted]"


static ngx_uint_t ngx_http_iot_redact_at(ngx_str_t *s, u_char *p,
    ngx_str_t *secret);
static ngx_int_t ngx_http_iot_redact_str(ngx_pool_t *pool, ngx_str_t *s,
    ngx_str_t *secret);


/*
 * What nginx logs of a request, $request (also the request line of error
 * log lines) and $request_uri, becomes a copy with the secret replaced;
 * r->uri and r->args keep pointing at what the request was parsed from.
 */

ngx_int_t
ngx_http_iot_redact(ngx_http_request_t *r, ngx_str_t *secret)
{
    if (secret->len == 0) {
        return NGX_OK;
    }

    if (ngx_http_iot_redact_str(r->pool, &r->request_line, secret) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_iot_redact_str(r->pool, &r->unparsed_uri, secret);
}


/*
 * Only where the secret is a whole value: after "=" or "/", before "&",
 * "/", "?", "#", " " or the end, so that a short one does not blank out
 * other parts of the line.
 */

static ngx_uint_t
ngx_http_iot_redact_at(ngx_str_t *s, u_char *p, ngx_str_t *secret)
{
    u_char  *end;

    if (p == s->data
        || (p[-1] != '=' && p[-1] != '/')
        || (size_t) (s->data + s->len - p) < secret->len
        || ngx_memcmp(p, secret->data, secret->len) != 0)
    {
        return 0;
    }

    end = p + secret->len;

    return end == s->data + s->len
           || *end == '&' || *end == '/' || *end == '?' || *end == '#'
           || *end == ' ';
}


static ngx_int_t
ngx_http_iot_redact_str(ngx_pool_t *pool, ngx_str_t *s, ngx_str_t *secret)
{
    u_char      *p, *last, *out, *o;
    ngx_uint_t   n;

    last = s->data + s->len;
    n = 0;

    for (p = s->data; p < last; p++) {
        if (ngx_http_iot_redact_at(s, p, secret)) {
            n++;
            p += secret->len - 1;
        }
    }

    if (n == 0) {
        return NGX_OK;
    }

    out = ngx_pnalloc(pool, s->len + n * sizeof(NGX_HTTP_IOT_REDACTED));
    if (out == NULL) {
        return NGX_ERROR;
    }

    o = out;

    for (p = s->data; p < last; p++) {
        if (ngx_http_iot_redact_at(s, p, secret)) {
            o = ngx_cpymem(o, NGX_HTTP_IOT_REDACTED,
                           sizeof(NGX_HTTP_IOT_REDACTED) - 1);
            p += secret->len - 1;
            continue;
        }

        *o++ = *p;
    }

    s->data = out;
    s->len = o - out;

    return NGX_OK;
}
