#!/usr/bin/perl
# Without iot_outputs_private_destinations, outputs never reach loopback
# or private addresses: a webhook to 127.0.0.1 or to a name that resolves
# to loopback, a UDP output and an MQTT output to loopback are refused at
# delivery (the config itself is accepted: names are not resolved when
# written), counted as errors, logged, and the receiver gets nothing.

use strict;
use warnings;
use Test::More;
use IO::Socket::INET;
use lib 't/lib';
use IoT::Test;
use IoT::Collections;
use IoT::JSON;
use IoT::Radius qw(radclient);
use IoT::Sink;

plan skip_all => 'radclient is not installed' unless -x '/usr/bin/radclient';
plan skip_all => 'HTTP::Daemon is not installed'
    unless eval { require HTTP::Daemon; 1 };

my $SECRET = 'private-secret';
my $acct = IoT::Test::free_port('udp');
my $up = IoT::Test::free_port('udp');

my $t = IoT::Test->new(workers => 2, stream_conf => <<"EOF");
    iot_radius_gateway name=pgw1 from=127.0.0.0/8 secret=$SECRET pool=10.64.0.0/16;
    server { listen 127.0.0.1:$acct udp; iot_radius; }
    server { listen 127.0.0.1:$up udp reuseport; iot_uplink; }
EOF
my $api = IoT::Collections->new($t);
$t->start;

my $hook = IoT::Sink->http($t);
my $udp = IoT::Sink->udp($t);

my $cid = $api->create_collection->{collectionId};
my $d = $api->create_device($cid);
my ($exit, $out) = radclient($acct, 'acct', $SECRET,
    "Acct-Status-Type = Start, Framed-IP-Address = 127.0.0.60, "
    . "3GPP-IMSI = \"$d->{imsi}\", Acct-Session-Id = \"p1\"",
    dir => $t->dir);
like($out, qr/Received Accounting-Response/, 'device attached');
my $sock = IO::Socket::INET->new(LocalAddr => '127.0.0.60', LocalPort => 0,
                                 Proto => 'udp') or die $!;

my %outputs = (
    'webhook to 127.0.0.1' => { type => 'webhook', config => {
        url => "http://127.0.0.1:$hook->{port}/" } },
    'webhook to localhost' => { type => 'webhook', config => {
        url => "http://localhost:$hook->{port}/" } },
    'webhook to [::1]' => { type => 'webhook', config => {
        url => "http://[::1]:$hook->{port}/" } },
    'udp to 127.0.0.1' => { type => 'udp', config => {
        host => '127.0.0.1', port => $udp->{port} } },
    'udp to 10.1.2.3' => { type => 'udp', config => {
        host => '10.1.2.3', port => 9 } },
    'mqtt to 127.0.0.1' => { type => 'mqtt', config => {
        endpoint => 'tcp://127.0.0.1:1883', topicName => 't' } },
);
my %oid;
for my $name (sort keys %outputs) {
    my ($s, $o) = $api->call(POST => "/collections/$cid/outputs",
                             body => $outputs{$name});
    is($s, 201, "$name: accepted when written");
    $oid{$name} = $o->{outputId};
}

sleep 2;
$sock->send("secret-$_", 0, pack_sockaddr_in($up, inet_aton('127.0.0.1')))
    for 1 .. 3;

for my $name (sort keys %oid) {
    ok(wait_until(sub {
        my (undef, $s) = $api->call(GET => "/collections/$cid/outputs/"
                                           . "$oid{$name}/status");
        ($s->{errorCount} // 0) >= 1;
    }, 60), "$name: refused at delivery");
    my (undef, $logs) = $api->call(GET => "/collections/$cid/outputs/"
                                          . "$oid{$name}/logs");
    ok((grep { $_->{message} =~ /private or loopback/ } @{ $logs->{logs} }),
       "$name: logged") or diag(json_encode($logs));
    my (undef, $s) = $api->call(GET => "/collections/$cid/outputs/"
                                       . "$oid{$name}/status");
    is($s->{forwarded}, 0, "$name: nothing forwarded");
}
is(scalar(() = $hook->received), 0, 'the HTTP receiver got nothing');
is(scalar(() = $udp->received), 0, 'the UDP receiver got nothing');

$hook->stop;
$udp->stop;
$t->finish;
done_testing;
