#!/usr/bin/perl

# The request signatures of the iotda dialect as a unit: the signing file
# (ngx_iot_module/ngx_http_iot_iotda_sign.c, plain C and OpenSSL) built
# alone with t/iotda-sign-check.c, checked against the test vector of the
# real Huawei Cloud Node SDK core (SDK-HMAC-SHA256 and V11-HMAC-SHA256),
# then against the client's own signer (t/lib/IoT/Iotda.pm) on requests
# whose wire form is not canonical.

use strict;
use warnings;

use Test::More;
use File::Temp ();
use Digest::SHA qw(sha256_hex);
use IoT::Test;
use IoT::Iotda;

my $root = IoT::Test::root();
my $dir = File::Temp::tempdir('iotda-sign-XXXXXXXX', TMPDIR => 1,
                              CLEANUP => 1);
my $bin = "$dir/check";
my $cc = $ENV{CC} || 'cc';

# UBSan's alignment check: the scratch space may start at any byte
# (found by fuzz/iotda_auth.c, docs/fuzzing.md)
my $out = `$cc -Wall -Wextra -Werror -fsanitize=alignment -fno-sanitize-recover=alignment -I$root/ngx_iot_module -o $bin $root/t/iotda-sign-check.c $root/ngx_iot_module/ngx_http_iot_iotda_sign.c -lcrypto 2>&1`;
is($?, 0, 'the signing file builds alone') or diag($out);

sub check {
    my (@args) = @_;
    open my $fh, '-|', $bin, @args or die "$bin: $!";
    my %r = map { split / /, $_, 2 } map { chomp; $_ } <$fh>;
    close $fh;
    return \%r;
}

# ------------------------------------------------------------ the vector

my $project = '0123456789abcdef0123456789abcdef';
my $body = '{"node_id":"node0001","product_id":"prod-1","device_name":'
         . '"dev one","auth_info":{"auth_type":"SECRET","secret":"abcd1234"}}';
my @vector = ('POST', "/v5/iot/$project/devices", '',
              'content-type;host;x-project-id;x-sdk-date', '20240101T000000Z',
              'TESTAK0123456789ABCD', 'testSecretKey0123456789abcdefghijklmnopq',
              'cn-north-4', $body,
              'application/json', '127.0.0.1:18099', $project,
              '20240101T000000Z');

my $r = check(@vector);
like($r->{body}, qr/^0bc86d62[0-9a-f]{51}c9012\z/, 'vector: body hash');
is($r->{canonical},
   '6a909324c3a9b8f6e6a121ec61ed95461d4224dca6e5ab67311e834d356f5563',
   'vector: canonical request hash');
is($r->{sdk},
   '99c582ea401a8a83964c20cc1446936883dce9c665cf10ff6a372255de3a8ab5',
   'vector: SDK-HMAC-SHA256 signature');
is($r->{key},
   '389ae58c894d99133f587b46edcea82754eb9afec73b6165724e0d4dd68ab201',
   'vector: V11 derived key (HKDF-SHA256, salt AK, info date/region/iotdm)');
is($r->{v11},
   'e22e30f148e17c9292fd5c6a8d7323022f5b873b7cbc2aa07488d042718712a4',
   'vector: V11-HMAC-SHA256 signature');

# a byte of the body changed changes everything
my @changed = @vector;
$changed[8] =~ s/dev one/dev onE/;
isnt(check(@changed)->{sdk}, $r->{sdk}, 'another body, another signature');

# ------------------------------------------------------------ wire forms

# the same canonical request whatever order and escaping the SDKs send
my @base = ('GET', "/v5/iot/$project/devices", '', 'host;x-sdk-date',
            '20240101T000000Z', 'AK', 'SK', 'cn-north-4', '',
            '127.0.0.1:1', '20240101T000000Z');

sub with_query {
    my ($path, $query) = @_;
    my @a = @base;
    $a[1] = $path;
    $a[2] = $query;
    return check(@a)->{canonical};
}

my $plain = with_query("/v5/iot/$project/devices", 'a=1&b=2&limit=10');
is(with_query("/v5/iot/$project/devices", 'limit=10&b=2&a=1'), $plain,
   'query pairs are sorted');
is(with_query("/v5/iot/$project/devices", 'a=%31&%62=2&limit=10'), $plain,
   'query pairs are decoded before they are encoded again');
is(with_query("/v5/iot/$project/devices", 'a=1&&b=2&limit=10'), $plain,
   'empty query parts are no pairs');
isnt(with_query("/v5/iot/$project/devices", 'a=1&b=3&limit=10'), $plain,
     'another value is another request');
is(with_query("/v5/iot/$project/devices", 'flag&x=1'),
   with_query("/v5/iot/$project/devices", 'x=1&flag='),
   'a bare key is key=');
is(with_query("/v5/iot/$project/devices", "n=(a)!*'"),
   with_query("/v5/iot/$project/devices", 'n=%28a%29%21%2A%27'),
   "Node's bare *()'! are encoded");
is(with_query("/v5/iot/$project/devices", 'v=b&v=a'),
   with_query("/v5/iot/$project/devices", 'v=a&v=b'),
   'a repeated key: sorted by value');
is(with_query("/v5/iot/$project/devices/a%2Db", ''),
   with_query("/v5/iot/$project/devices/a-b", ''),
   'path segments are decoded once and encoded again');
is(with_query("/v5/iot/$project/devices/", ''),
   with_query("/v5/iot/$project/devices", ''),
   'the canonical path ends in one /');

# the client's signer agrees on every one of them
for my $case (
    ["/v5/iot/$project/devices", 'limit=10&b=2&a=%31'],
    ["/v5/iot/$project/devices/x%20y~z", "n=(a)!*'&m=%E4%B8%AD"],
    ["/v5/iot/$project/devices", 'flag&x=1&x=0'],
) {
    my ($path, $query) = @$case;
    my $mine = IoT::Iotda::canonical_hash('GET', $path, $query,
        'host;x-sdk-date', { host => ' 127.0.0.1:1 ',
                             'x-sdk-date' => '20240101T000000Z' },
        sha256_hex(''));
    my @a = @base;
    ($a[1], $a[2]) = ($path, $query);
    $a[9] = ' 127.0.0.1:1 ';
    is(check(@a)->{canonical}, $mine, "the client agrees: $path?$query");
}

done_testing;
