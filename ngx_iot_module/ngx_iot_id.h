
/*
 * Copyright (C) nginx-iot authors
 *
 * Identifiers: 64-bit ids and their 13-character text, IMSI/IMEI-like
 * digit strings as integer keys, UUIDs, randomness and time.
 */


#ifndef _NGX_IOT_ID_H_INCLUDED_
#define _NGX_IOT_ID_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_iot.h"


#define NGX_IOT_ID_RANDOM_BITS  21
#define NGX_IOT_ID_MS_MASK      ((1ULL << 42) - 1)

uint64_t ngx_iot_id_new(void);
uint64_t ngx_iot_id_new_ordered(void);
u_char *ngx_iot_id_encode(u_char *p, uint64_t id);
ngx_int_t ngx_iot_id_decode(u_char *p, size_t len, uint64_t *id);
ngx_int_t ngx_iot_ident_decode(u_char *p, size_t len, uint64_t *key);
u_char *ngx_iot_ident_encode(u_char *p, uint64_t key);
ngx_int_t ngx_iot_random(u_char *buf, size_t len);
uint64_t ngx_iot_now_ms(void);

#define NGX_IOT_UUID_SIZE  16    /* bytes */
#define NGX_IOT_UUID_LEN   36    /* its text */

ngx_int_t ngx_iot_uuid_new(u_char *uuid);
u_char *ngx_iot_uuid_encode(u_char *p, u_char *uuid);
ngx_int_t ngx_iot_uuid_decode(u_char *p, size_t len, u_char *uuid);
ngx_uint_t ngx_iot_uuid_is_nil(u_char *uuid);
ngx_int_t ngx_iot_hex_decode(u_char *dst, u_char *src, size_t len);


#endif /* _NGX_IOT_ID_H_INCLUDED_ */
