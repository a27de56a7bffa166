#!/usr/bin/perl
# coap-pull downlink (docs/coap.md): POST .../to with transport coap-pull
# queues the message in the store (204, state "queued"); the device's CoAP
# GET (any path) gets the oldest one (2.05), which is then "delivered";
# with nothing queued the answer is 4.04; a full queue answers 409; queued
# messages survive restarts of nginx and of the sidecar.

use strict;
use warnings;
use Test::More;
use MIME::Base64 qw(encode_base64);
use lib 't/lib';
use IoT::Test;
use IoT::Collections;
use IoT::JSON;
use IoT::Radius qw(radclient);
use IoT::Coap;
use IoT::Metrics;

plan skip_all => 'radclient is not installed' unless -x '/usr/bin/radclient';
plan skip_all => 'no sidecar or coap-client (./build.sh build)'
    unless IoT::Coap::available();

my $SECRET = 'coap-secret';
my $acct = IoT::Test::free_port('udp');

my $t = IoT::Test->new(workers => 2,
    server_conf => "location = /metrics { iot_metrics; }\n");
my $coap = IoT::Coap->new($t, queue => 3);
$t->write_config(stream_conf => <<"EOF" . $coap->link_conf);
    iot_radius_gateway name=pgw1 from=127.0.0.0/8 secret=$SECRET pool=10.64.0.0/16;
    server { listen 127.0.0.1:$acct udp; iot_radius; }
EOF
my $api = IoT::Collections->new($t);
$t->start;
ok($coap->start, 'the sidecar is up');

my ($st, $C) = $api->call(POST => '/collections', body => {});
my $cid = $C->{collectionId};
my @dev;
for (0 .. 1) {
    my ($ds, $D) = $api->call(POST => "/collections/$cid/devices",
                              body => { imsi => $t->next_imsi,
                                        imei => $t->next_imei });
    is($ds, 201, "device $_");
    push @dev, $D;
}
my $did = $dev[0]{deviceId};

my (undef, $out) = radclient($acct, 'acct', $SECRET,
    "Acct-Status-Type = Start, Acct-Session-Id = \"p1\", "
    . "Framed-IP-Address = 127.0.0.4, 3GPP-IMSI = \"$dev[0]{imsi}\"",
    dir => $t->dir);
like($out, qr/Received Accounting-Response/, 'the device attaches');

sub to {
    my ($payload, $dev) = @_;
    return $api->call(POST => "/collections/$cid/devices/" . ($dev // $did)
                              . '/to',
                      body => { transport => 'coap-pull',
                                payload => encode_base64($payload, '') });
}

sub states {
    my ($s, $j) = $api->call(GET => "/collections/$cid/devices/$did/downlinks");
    return [ map { $_->{state} } @{ $j->{downlinks} || [] } ];
}

# the downlinks of a transport by state, from the metrics (docs/metrics.md)
sub metric_states {
    my ($transport) = @_;
    my ($m) = IoT::Metrics::parse(($t->http(GET => '/metrics'))[2]);
    return { map { $_->{labels}{state} => $_->{value} }
             grep { $_->{labels}{transport} eq $transport }
             IoT::Metrics::samples($m // {}, 'nginx_iot_downlinks_total') };
}

sub pull {
    return $coap->client(from => '127.0.0.4', method => 'get',
                         path => $_[0] // 'dl');
}

# ---- nothing queued: 4.04
my $r = pull();
is($r->{code}, '4.04', 'nothing queued: 4.04');

# ---- queued: 204, then handed out oldest first
my @r = to('one');
is($r[0], 204, 'coap-pull downlink answered 204');
@r = to("two\x00");
is($r[0], 204, 'a second one');
is_deeply(states(), [ 'queued', 'queued' ], 'both are queued');
my ($ls, $L) = $api->call(GET => "/collections/$cid/devices/$did/downlinks");
is($L->{downlinks}[0]{transport}, 'coap-pull', '... as coap-pull');

$r = pull('any/path');
is($r->{code}, '2.05', 'the device GET gets 2.05');
is($r->{body}, 'one', '... the oldest message');
ok(IoT::Test::wait_until(sub { states()->[1] eq 'delivered' }, 5),
   '... which is then delivered');
is(states()->[0], 'queued', '... the other still queued');
is_deeply(metric_states('coap-pull'),
          { queued => 2, delivered => 1, sent => 0, failed => 0,
            expired => 0 },
          'metrics: two queued, one of them delivered');

# ---- a restart of nginx and of the sidecar keeps the queue
$coap->stop;
$t->stop;
$t->start;
ok($coap->start, 'nginx and the sidecar started again');
$r = pull();
is($r->{code}, '2.05', 'after the restarts: 2.05');
is($r->{body}, "two\x00", '... the message queued before them');
ok(IoT::Test::wait_until(sub { states()->[0] eq 'delivered' }, 5),
   '... delivered');
$r = pull();
is($r->{code}, '4.04', 'the queue is empty again: 4.04');

# ---- a bounded queue: 3 here
is((to("q$_"))[0], 204, "queued $_") for 1 .. 3;
@r = to('q4');
is($r[0], 409, 'a full queue answers 409');
like($r[1]{message} // '', qr/queue/, '... saying the queue is full');
is(scalar(grep { $_ eq 'queued' } @{ states() }), 3,
   '... and nothing more is queued');
is(pull()->{body}, 'q1', 'the device takes one');
ok(IoT::Test::wait_until(sub { 2 == grep { $_ eq 'queued' } @{ states() } }, 5),
   '... which is delivered');
is((to('q5'))[0], 204, '... and there is room again');

# ---- the other device, not attached, queues too (it pulls when it can)
is((to('later', $dev[1]{deviceId}))[0], 204,
   'a device without an address: queued too');

# ---- an address of no device: 4.01
$r = $coap->client(from => '127.0.0.9', method => 'get', path => 'x');
is($r->{code}, '4.01', 'a GET from an unknown address: 4.01');

# ---- without the link, coap-pull is refused
my $t2 = IoT::Test->new(workers => 1);
$t2->start;
my $api2 = IoT::Collections->new($t2);
my (undef, $C2) = $api2->call(POST => '/collections', body => {});
my (undef, $D2) = $api2->call(POST => "/collections/$C2->{collectionId}/devices",
                              body => { imsi => $t2->next_imsi,
                                        imei => $t2->next_imei });
@r = $api2->call(POST => "/collections/$C2->{collectionId}/devices/$D2->{deviceId}/to",
                 body => { transport => 'coap-pull', payload => 'aGk=' });
is($r[0], 400, 'without iot_coap_link coap-pull is a 400');
like($r[1]{message} // '', qr/iot_coap_link/, '... which names the directive');

$coap->stop;
$t->check_log('coap pull');
done_testing;
