#!/usr/bin/perl

# $iot_dialect, $iot_collection_id and $iot_device_id in an access log
# (docs/metrics.md, "Access log variables"): the dialect that served each
# request and the collection and device it acted on, in the collections
# dialect's id form, for the collections, things and iotda dialects; empty
# where a request named none, was refused before, or was not the module's.

use strict;
use warnings;
use Test::More;
use IoT::Test;
use IoT::Collections;
use IoT::Things;
use IoT::Iotda;
use IoT::WebSocket;
use Digest::SHA qw(sha256_hex);

my $t = IoT::Test->new(
    location => $IoT::Iotda::LOCATIONS,
    http_conf => "log_format iot '\$iot_dialect|\$iot_collection_id|"
               . "\$iot_device_id|\$status|\$request_method \$uri';\n",
    server_conf => "access_log logs/iot.log iot;\n"
                 . "location = /metrics { iot_metrics; "
                 . "allow 127.0.0.1; deny all; }\n");
my $api = IoT::Collections->new($t);
my $things = IoT::Things->new($t);
$t->start;

my $log = $t->dir . '/logs/iot.log';

# the line logged for the request $code makes ("METHOD URI" ends it): nginx
# writes it once the answer is out, so it is waited for
sub logged {
    my ($code, $req) = @_;
    my $from = -s $log || 0;
    $code->();
    my $line;
    IoT::Test::wait_until(sub {
        open my $fh, '<', $log or return 0;
        seek $fh, $from, 0;
        ($line) = grep { /\|\Q$req\E\z/ } map { chomp; $_ } <$fh>;
        return defined $line;
    }, 10);
    return $line;
}

sub line_is {
    my ($code, $want, $name) = @_;
    my ($req) = $want =~ /\|([^|]*)\z/;
    is(logged($code, $req), $want, $name);
}

# ------------------------------------------------------------ collections

my $C;
my $l = logged(sub { $C = $api->create_collection }, 'POST /collections');
my $cid = $C->{collectionId};
is($l, "collections|$cid||201|POST /collections",
   'a collection made: its new id');

my $D;
$l = logged(sub { $D = $api->create_device($cid, { imsi => $t->next_imsi,
                                                   imei => $t->next_imei }) },
            "POST /collections/$cid/devices");
my $did = $D->{deviceId};
is($l, "collections|$cid|$did|201|POST /collections/$cid/devices",
   'a device made: its collection and new id');

line_is(sub { $api->call(GET => "/collections/$cid") },
        "collections|$cid||200|GET /collections/$cid", 'a collection read');
line_is(sub { $api->call(GET => "/collections/$cid/devices/$did") },
        "collections|$cid|$did|200|GET /collections/$cid/devices/$did",
        'a device read');
line_is(sub { $api->call(PATCH => "/collections/$cid/devices/$did",
                         body => { tags => { a => 'b' } }) },
        "collections|$cid|$did|200|PATCH /collections/$cid/devices/$did",
        'a device changed');
line_is(sub { $api->call(GET => "/collections/$cid/devices/$did/data") },
        "collections|$cid|$did|200|GET /collections/$cid/devices/$did/data",
        "a device's history");
line_is(sub { $api->call(GET => '/collections') },
        'collections|||200|GET /collections', 'a list names no collection');
line_is(sub { $api->call(GET => "/collections/$cid", token => undef) },
        "collections|||401|GET /collections/$cid",
        'refused before the access check: no ids');

my $ro = $api->create_token({ resource => "/collections/$cid",
                              write => JSON::XS::false() });
my $other = $api->create_collection;
line_is(sub { $api->call(GET => "/collections/$other->{collectionId}",
                         token => $ro->{token}) },
        "collections|||403|GET /collections/$other->{collectionId}",
        'a collection the token does not reach: no ids');

line_is(sub {
    my $ws = IoT::WebSocket->connect(port => $t->port,
                                     path => "/collections/$cid/devices/$did/from",
                                     token => $ro->{token});
    is($ws->{status}, 101, 'a stream opened');
    $ws->close;
}, "collections|$cid|$did|101|GET /collections/$cid/devices/$did/from",
   'a stream: its collection and device');

# ------------------------------------------------------------ things

line_is(sub { $things->call(GET => "/devices/imei:$D->{imei}") },
        "things|$cid|$did|200|GET /devices/imei:$D->{imei}",
        'things: a device read, in the collections dialect\'s ids');
line_is(sub { $things->call(GET => '/devices/imei:999999999999999') },
        'things|||404|GET /devices/imei:999999999999999',
        'things: no such device, no ids');

# an ingested SenML pack: the device its DVN UUID names
my $C2 = $api->create_collection;
$things->{client_id} = $C2->{teamId};
my $TD = $things->create_device($C2->{collectionId}, { name => 'ip device' });
my $DVN = '0b6c1f4e-2d3a-4b5c-8d7e-9f0a1b2c3d4e';
my $SHARED = 'Xyz789' x 6;
is(($things->call(POST => "/devices/$TD->{id}/network-adapters",
    body => { type => 'generic', dvnUuid => $DVN, sharedSecret => $SHARED }))[0],
   201, 'a things device with a generic adapter');
my $did2 = ($api->call(GET => "/collections/$C2->{collectionId}/devices"))[1]
           {devices}[0]{deviceId};
my $pack = qq([{"bn":"urn:dev:DVNUUID:$DVN:","n":"t","v":1}]);
line_is(sub { $t->http(POST => '/ingestion/ip/senml/v1',
                       headers => { 'Things-Message-Token'
                                        => sha256_hex($pack . $SHARED) },
                       body => $pack) },
        "things|$C2->{collectionId}|$did2|204|POST /ingestion/ip/senml/v1",
        'things: an ingested pack, its device');

# ------------------------------------------------------------ iotda

my ($uuid) = (($t->http(GET => '/devices',
    headers => { Authorization => 'Bearer ' . $t->admin_token }))[2]
    =~ /"clientId":"([0-9a-f-]{36})"/);
(my $project = $uuid // '') =~ s/-//g;
my $iotda = IoT::Iotda->new($t, project => $project);

line_is(sub { $iotda->call(GET => "/devices/$did") },
        "iotda|$cid|$did|200|GET /v5/iot/$project/devices/$did",
        'iotda: a device read');
line_is(sub { $iotda->call(GET => '/devices/zzzzzzzzzzzzz') },
        "iotda|||404|GET /v5/iot/$project/devices/zzzzzzzzzzzzz",
        'iotda: no such device, no ids');

# ------------------------------------------------------------ elsewhere

line_is(sub { $t->http(GET => '/metrics') }, '|||200|GET /metrics',
        'a location without iot_api: all empty');

$t->finish;
done_testing();
