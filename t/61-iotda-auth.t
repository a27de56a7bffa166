#!/usr/bin/perl

# The iotda dialect's credentials and errors through nginx: X-Auth-Token;
# AK/SK signatures (SDK-HMAC-SHA256 and V11-HMAC-SHA256) made by the
# client's signer and by the Huawei Cloud SDK core itself (t/npm, installed
# by ./build.sh); refused: a wrong signature, an unknown key, a stale or
# missing date, a changed body, a query or path changed, a dropped signed
# header, another project; read-only keys; one resource space's key never
# reaching another's devices; IOTDA.xxxxxx errors with X-Request-Id on
# every answer; no secret in the logs.

use strict;
use warnings;

use Test::More;
use JSON::XS ();
use IoT::Test;
use IoT::Collections;
use IoT::Iotda;

my $t = IoT::Test->new(location => $IoT::Iotda::LOCATIONS);
$t->start;

my $c = IoT::Collections->new($t);
my $A = $c->create_collection({ tags => { name => 'space-a' } });
my $B = $c->create_collection({ tags => { name => 'space-b' } });
my $DA = $c->create_device($A->{collectionId}, { tags => { name => 'a1' } });
my $DB = $c->create_device($B->{collectionId}, { tags => { name => 'b1' } });

my $all = $c->create_token({ resource => '/', write => JSON::XS::true });
my $ra = $c->create_token({ resource => "/collections/$A->{collectionId}",
                            write => JSON::XS::false });

# the project: the team's UUID as 32 hex digits
my ($st, $h, $raw) = $t->http(GET => '/devices',
    headers => { Authorization => 'Bearer ' . $t->admin_token });
my ($uuid) = $raw =~ /"clientId":"([0-9a-f-]{36})"/;
ok($uuid, 'the team UUID (things clientId)');
(my $project = $uuid) =~ s/-//g;

my $tok = IoT::Iotda->new($t, project => $project);
my ($ak, $sk) = access_key($all->{token});
my ($rak, $rsk) = access_key($ra->{token});
my %sdk = (project => $project, ak => $ak, sk => $sk);
my $sign = IoT::Iotda->new($t, %sdk);
my $v11 = IoT::Iotda->new($t, %sdk, algorithm => 'V11-HMAC-SHA256');

# ------------------------------------------------------------ X-Auth-Token

my ($s, $j, $hd) = $tok->call(GET => "/devices/$DA->{deviceId}");
is($s, 200, 'X-Auth-Token (admin): the device');
is($j->{device_id}, $DA->{deviceId}, 'device_id: the collections id');
is($j->{app_id}, $A->{collectionId}, 'app_id: its collection');
is($j->{app_name}, 'space-a', "app_name: the collection's name tag");
is($j->{device_name}, 'a1', 'device_name: tags.name');
like($hd->{'x-request-id'}, qr/^[0-9a-f]{32}\z/, 'X-Request-Id on a 200');

is_iotda_error([$tok->call(GET => "/devices/$DA->{deviceId}", token => undef)],
               401, 'IOTDA.000002', 'no credentials');
is_iotda_error([$tok->call(GET => "/devices/$DA->{deviceId}",
                           token => 'f' x 64)],
               401, 'IOTDA.000002', 'an unknown X-Auth-Token');
is_iotda_error([$tok->call(GET => "/devices/zzzzzzzzzzzzz")],
               404, 'IOTDA.014000', 'no such device');
is_iotda_error([$tok->call(GET => "/devices/$DA->{deviceId}/nothing")],
               404, 'IOTDA.000004', 'no such resource');
is_iotda_error([$tok->call(POST => "/devices/$DA->{deviceId}", body => {})],
               405, 'IOTDA.000005', 'a method the resource does not take');
is_iotda_error([$tok->call(GET => "/devices/$DA->{deviceId}",
                           project => 'ffffffffffffffffffffffffffffffff')],
               403, 'IOTDA.000022', 'another project');
is(($tok->call(GET => "/devices/$DA->{deviceId}", project => $uuid))[0], 200,
   'the project as a UUID');
is(($tok->call(GET => "/devices/$DA->{deviceId}",
               project => $A->{teamId}))[0], 200,
   'the project as the teamId');

# ------------------------------------------------------------ signatures

for my $api ($sign, $v11) {
    my $alg = $api->{algorithm};
    ($s, $j) = $api->call(GET => "/devices/$DA->{deviceId}");
    is($s, 200, "$alg: signed GET");
    is($j && $j->{device_id}, $DA->{deviceId}, "$alg: the device");
    is(($api->call(GET => "/devices/$DA->{deviceId}",
                   query => 'b=2&a=%31&c'))[0], 200,
       "$alg: a query in any order and form");
    is(($api->call(GET => "/devices/$DA->{deviceId}",
                   signed => 'host;x-sdk-date'))[0], 200,
       "$alg: fewer signed headers (the list comes from the request)");
    is(($api->call(GET => "/devices/$DA->{deviceId}",
                   date => sdk_date(time - 600)))[0], 200,
       "$alg: 10 minutes of skew");

    is_iotda_error([$api->call(GET => "/devices/$DA->{deviceId}",
                               date => sdk_date(time - 20 * 60))],
                   401, 'IOTDA.000002', "$alg: a stale date");
    is_iotda_error([$api->call(GET => "/devices/$DA->{deviceId}",
                               date => sdk_date(time + 20 * 60))],
                   401, 'IOTDA.000002', "$alg: a date in the future");
    is_iotda_error([$api->call(GET => "/devices/$DA->{deviceId}",
                               date => '2024-01-01T00:00:00Z')],
                   401, 'IOTDA.000002', "$alg: a date in another form");
    is_iotda_error([$api->call(GET => "/devices/$DA->{deviceId}",
        tamper => sub { $_[0]{Authorization} =~ s/Signature=(.)/
                            'Signature=' . ($1 eq 'a' ? 'b' : 'a')/e; '' })],
                   401, 'IOTDA.000002', "$alg: a wrong signature");
    is_iotda_error([$api->call(GET => "/devices/$DA->{deviceId}",
        tamper => sub { $_[0]{'X-Sdk-Date'} = sdk_date(time - 1); '' })],
                   401, 'IOTDA.000002', "$alg: a signed header changed");
    is_iotda_error([$api->call(GET => "/devices/$DA->{deviceId}",
        tamper => sub { delete $_[0]{'X-Project-Id'}; '' })],
                   401, 'IOTDA.000002', "$alg: a signed header dropped");
    is_iotda_error([$api->call(GET => "/devices/$DA->{deviceId}",
                               signed => 'content-type;host')],
                   401, 'IOTDA.000002', "$alg: x-sdk-date not signed");
    is_iotda_error([$api->call(GET => "/devices/$DA->{deviceId}",
                               body => { a => 1 },
        tamper => sub { '{"a":2}' })],
                   401, 'IOTDA.000002', "$alg: a changed body");
    is_iotda_error([$api->call(GET => "/devices/$DA->{deviceId}",
        headers => { 'X-Project-Id' => 'ffffffffffffffffffffffffffffffff' })],
                   403, 'IOTDA.000022', "$alg: X-Project-Id not the path's");
    is_iotda_error([IoT::Iotda->new($t, %sdk, algorithm => $alg,
                                    sk => $rsk)
                    ->call(GET => "/devices/$DA->{deviceId}")],
                   401, 'IOTDA.000002', "$alg: another key's secret");
    is_iotda_error([IoT::Iotda->new($t, %sdk, algorithm => $alg,
                                    ak => 'abcdef012345')
                    ->call(GET => "/devices/$DA->{deviceId}")],
                   401, 'IOTDA.000002', "$alg: an unknown access key");
}

# a query changed after signing: the path and the query are signed
{
    my $full = "/v5/iot/$project/devices/$DA->{deviceId}";
    my %hh = ('X-Sdk-Date' => sdk_date(), 'Content-Type' => 'application/json',
              'X-Project-Id' => $project);
    my $canonical = IoT::Iotda::canonical_hash('GET', $full, 'a=1',
        'content-type;host;x-project-id;x-sdk-date',
        { 'content-type' => 'application/json',
          host => '127.0.0.1:' . $t->port, 'x-project-id' => $project,
          'x-sdk-date' => $hh{'X-Sdk-Date'} },
        Digest::SHA::sha256_hex(''));
    my ($sig) = IoT::Iotda::signature(algorithm => 'SDK-HMAC-SHA256',
        date => $hh{'X-Sdk-Date'}, sk => $sk, canonical => $canonical);
    $hh{Authorization} = "SDK-HMAC-SHA256 Access=$ak, SignedHeaders="
        . "content-type;host;x-project-id;x-sdk-date, Signature=$sig";
    my ($s1) = $t->http(GET => "$full?a=1", headers => \%hh);
    is($s1, 200, 'signed by hand: the request as signed');
    my ($s2, $h2, $r2) = $t->http(GET => "$full?a=2", headers => \%hh);
    is($s2, 401, 'another query than signed: 401');
    like($r2, qr/"error_code":"IOTDA.000002"/, 'another query: IOTDA.000002');
    my ($s3) = $t->http(GET => "/v5/iot/$project/devices/$DB->{deviceId}?a=1",
                        headers => \%hh);
    is($s3, 401, 'another path than signed: 401');
}

# ------------------------------------------------------------ bodies

# too large: by Content-Length (the dialect), chunked (nginx, through the
# header filter): both in the dialect's format with a request id
is_iotda_error([$tok->call(POST => '/products',
                           body => '{"a":"' . ('x' x (70 * 1024)) . '"}')],
               413, 'IOTDA.000006', 'a body over client_max_body_size');
{
    my $chunk = 'x' x 8192;
    my $raw = $t->raw_request([
        "POST /v5/iot/$project/products HTTP/1.1\r\nHost: x\r\n"
        . 'X-Auth-Token: ' . $t->admin_token . "\r\n"
        . "Content-Type: application/json\r\n"
        . "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        (map { sprintf("%x\r\n%s\r\n", length $chunk, $chunk) } 1 .. 10),
        "0\r\n\r\n" ], until => qr/\r\n\r\n.*\}/s);
    my ($st, $h, $body) = IoT::Test::parse_response($raw);
    is_iotda_error([$st, eval { JSON::XS::decode_json($body) }, $h, $body],
                   413, 'IOTDA.000006', 'a chunked body over the limit');
}
is_iotda_error([$sign->call(POST => '/products', body => 'not json')],
               400, 'IOTDA.000008', 'a signed body that is not JSON');
is_iotda_error([$sign->call(POST => '/products', body => '[]')],
               400, 'IOTDA.000008', 'a signed body that is not an object');
is_iotda_error([$tok->call(GET => "/devices/$DA->{deviceId}",
                           headers => { Authorization => 'Basic eA==' })],
               401, 'IOTDA.000002', 'another Authorization scheme');
is_iotda_error([$tok->call(GET => "/devices/$DA->{deviceId}",
                           headers => { Authorization =>
                                        'SDK-HMAC-SHA256 Access=x' })],
               401, 'IOTDA.000002', 'a signature header without its parts');

# ------------------------------------------------------------ isolation

my $only_a = IoT::Iotda->new($t, project => $project, ak => $rak,
                             sk => $rsk);
is(($only_a->call(GET => "/devices/$DA->{deviceId}"))[0], 200,
   "resource space A's key reads A's device");
is_iotda_error([$only_a->call(GET => "/devices/$DB->{deviceId}")],
               404, 'IOTDA.014000',
               "resource space A's key: B's device does not exist for it");
is_iotda_error([$tok->call(GET => "/devices/$DB->{deviceId}",
                           token => $ra->{token})],
               404, 'IOTDA.014000',
               "A's token as X-Auth-Token: B's device does not exist");
is_iotda_error([$only_a->call(DELETE => "/devices/$DA->{deviceId}")],
               403, 'IOTDA.000022', 'a read-only key does not delete');

# the admin token has no access key: its prefix is not a key
my ($aak, $ask) = access_key($t->admin_token);
is_iotda_error([IoT::Iotda->new($t, project => $project, ak => $aak,
                                sk => $ask)
                ->call(GET => "/devices/$DA->{deviceId}")],
               401, 'IOTDA.000002', "the admin token's prefix is no key");

# a deleted token's key goes with it
my $gone = $c->create_token({ resource => '/', write => JSON::XS::true });
my ($gak, $gsk) = access_key($gone->{token});
my $gapi = IoT::Iotda->new($t, project => $project, ak => $gak, sk => $gsk);
is(($gapi->call(GET => "/devices/$DA->{deviceId}"))[0], 200,
   'a new token signs at once');
is(($c->call(DELETE => "/tokens/$gone->{token}"))[0], 204,
   'the token deleted');
is_iotda_error([$gapi->call(GET => "/devices/$DA->{deviceId}")],
               401, 'IOTDA.000002', "a deleted token's key");

# ------------------------------------------------------------ the SDK

SKIP: {
    my $sdk = IoT::Iotda::sdk($t, $project);
    skip 'node and t/npm/node_modules (./build.sh installs them)', 10
        unless $sdk;

    my $r = $sdk->($ak, $sk, 'GET', '/v5/iot/{project_id}/devices/'
                   . $DA->{deviceId});
    is($r->{status}, 200, 'SDK core: a signed GET') or diag(explain $r);
    is($r->{body}{device_id}, $DA->{deviceId}, 'SDK core: the device');
    $r = $sdk->($ak, $sk, 'GET', '/v5/iot/{project_id}/devices/'
                . $DA->{deviceId},
                '{"limit":10,"marker":"ffffffffffffffffffffffff",'
                . '"name":"a b*(c)!"}');
    is($r->{status}, 200, "SDK core: a query with characters Node leaves "
                          . "bare") or diag(explain $r);
    $r = $sdk->($ak, $sk, 'GET', '/v5/iot/{project_id}/devices/'
                . $DB->{deviceId});
    is($r->{status}, 200, 'SDK core: a key that reaches every space');
    $r = $sdk->($rak, $rsk, 'GET', '/v5/iot/{project_id}/devices/'
                . $DB->{deviceId});
    is($r->{status}, 404, "SDK core: B's device with A's key")
        or diag(explain $r);
    is($r->{error_code}, 'IOTDA.014000', 'SDK core: the error code');
    like($r->{request_id} // '', qr/^[0-9a-f]{32}\z/,
         'SDK core: the request id from X-Request-Id');
    $r = $sdk->($ak, $rsk, 'GET', '/v5/iot/{project_id}/devices/'
                . $DA->{deviceId});
    is($r->{status}, 401, 'SDK core: a wrong secret key');
    is($r->{error_code}, 'IOTDA.000002', 'SDK core: IOTDA.000002');
    $r = $sdk->($ak, $sk, 'POST', '/v5/iot/{project_id}/devices/'
                . $DA->{deviceId}, '{}', '{"x":1}');
    is($r->{status}, 405, 'SDK core: a signed POST with a body is '
                          . 'verified, then refused by method');
}

# ------------------------------------------------------------ secrets

# the error log at debug level has every request header: the secret keys
# and the token they come from (never sent) are nowhere
my $log = $t->read_log;
for my $secret ($sk, $rsk, $all->{token}) {
    unlike($log, qr/\Q$secret\E/, 'no secret key in the error log');
}

$t->finish;
done_testing;
