#!/usr/bin/perl
# A UDP output sends the raw payload of each message, one datagram each,
# in each device's order; an IFTTT output makes the maker request (POST
# <iot_outputs_ifttt_url>/trigger/<event>/with/key/<key> with value1 the
# payload, base64 or as is, value2 the device id, value3 empty), here
# against a local HTTP receiver; a name that does not resolve is a
# delivery failure, logged and retried, not a refusal when written.

use strict;
use warnings;
use Test::More;
use IO::Socket::INET;
use MIME::Base64 qw(decode_base64);
use lib 't/lib';
use IoT::Test;
use IoT::Collections;
use IoT::JSON;
use IoT::Radius qw(radclient);
use IoT::Sink;

plan skip_all => 'radclient is not installed' unless -x '/usr/bin/radclient';
plan skip_all => 'HTTP::Daemon is not installed'
    unless eval { require HTTP::Daemon; 1 };

my $SECRET = 'udp-secret';
my $acct = IoT::Test::free_port('udp');
my $up = IoT::Test::free_port('udp');

my $maker_port = IoT::Test::free_port('tcp');

my $t = IoT::Test->new(workers => 2, main_conf => <<"EOF", stream_conf => <<"EOF2");
iot_outputs_private_destinations on;
iot_outputs_ifttt_url http://127.0.0.1:$maker_port;
EOF
    iot_radius_gateway name=pgw1 from=127.0.0.0/8 secret=$SECRET pool=10.64.0.0/16;
    server { listen 127.0.0.1:$acct udp; iot_radius; }
    server { listen 127.0.0.1:$up udp reuseport; iot_uplink; }
EOF2
my $udp = IoT::Sink->udp($t);
my $maker = IoT::Sink->http($t, $maker_port);
my $api = IoT::Collections->new($t);
$t->start;

my $cid = $api->create_collection->{collectionId};

my @dev;
for my $i (0 .. 1) {
    my $d = $api->create_device($cid);
    my $addr = '127.0.0.' . (50 + $i);
    my ($exit, $out) = radclient($acct, 'acct', $SECRET,
        "Acct-Status-Type = Start, Framed-IP-Address = $addr, "
        . "3GPP-IMSI = \"$d->{imsi}\", Acct-Session-Id = \"u$i\"",
        dir => $t->dir);
    like($out, qr/Received Accounting-Response/, "device $i attached");
    $d->{sock} = IO::Socket::INET->new(LocalAddr => $addr, LocalPort => 0,
                                       Proto => 'udp') or die $!;
    push @dev, $d;
}

my $seq = 0;
sub uplink {
    my ($i, $p) = @_;
    $p //= "d$i-" . ++$seq;
    $dev[$i]{sock}->send($p, 0, pack_sockaddr_in($up, inet_aton('127.0.0.1')));
    select(undef, undef, undef, 0.002);
    return $p;
}

sub status {
    my ($oid) = @_;
    my (undef, $j) = $api->call(GET => "/collections/$cid/outputs/$oid/status");
    return $j // {};
}

my ($s1, $U) = $api->call(POST => "/collections/$cid/outputs", body => {
    type => 'udp', config => { host => '127.0.0.1', port => $udp->{port} } });
is($s1, 201, 'udp output made');
my ($s2, $I) = $api->call(POST => "/collections/$cid/outputs", body => {
    type => 'ifttt', config => { key => 'k3y', eventName => 'ev',
                                 asIsPayload => JFALSE } });
is($s2, 201, 'ifttt output made');
my ($s3, $A) = $api->call(POST => "/collections/$cid/outputs", body => {
    type => 'ifttt', config => { key => 'k3y', eventName => 'asis',
                                 asIsPayload => JTRUE } });
is($s3, 201, 'ifttt output (as is) made');
my ($s4, $N) = $api->call(POST => "/collections/$cid/outputs", body => {
    type => 'udp', config => { host => 'no-such-host.invalid', port => 9 } });
is($s4, 201, 'a name that does not resolve is not refused when written');

my @sent = (uplink(0, "first\x00\xffbinary"));
ok(wait_until(sub { $udp->received >= 1 }, 30), 'first datagram');
push @sent, map { uplink($_ % 2) } 1 .. 20;
ok(wait_until(sub { $udp->received >= @sent }, 60), 'all datagrams');
my @got = map { $_->{payload} } $udp->received;
is(scalar @got, scalar @sent, 'each once');
is($got[0], "first\x00\xffbinary", 'the raw payload');
for my $i (0 .. 1) {
    is_deeply([grep { /^d$i-/ } @got], [grep { /^d$i-/ } @sent],
              "device $i in its order");
}

ok(wait_until(sub { $maker->received >= 2 * @sent }, 60),
   'a maker request for each message and output');
my @req = $maker->received;
my @plain = grep { $_->{path} eq '/trigger/ev/with/key/k3y' } @req;
my @asis = grep { $_->{path} eq '/trigger/asis/with/key/k3y' } @req;
is(scalar @plain, scalar @sent, 'every message to the first event');
is(scalar @asis, scalar @sent, 'every message to the second event');
my %dev = map { $_->{deviceId} => 1 } @dev;
my $b = json_decode($plain[1]{body});
ok($dev{ $b->{value2} }, 'value2: the device id');
is($b->{value3}, '', 'value3: empty');
my @v1 = sort map { decode_base64(json_decode($_->{body})
                                                 ->{value1}) } @plain;
is_deeply(\@v1, [sort @sent], 'value1: the payload in base64');
my @v1a = map { json_decode($_->{body})->{value1} } @asis;
is_deeply([sort grep { /^d/ } @v1a], [sort grep { /^d/ } @sent],
          'value1 as is');
like($plain[0]{headers}{'content-type'}, qr{^application/json}, 'JSON');

ok(wait_until(sub { (status($N->{outputId})->{errorCount} // 0) >= 2 }, 60),
   'an unresolvable name is a delivery failure, retried');
my (undef, $logs) = $api->call(GET => "/collections/$cid/outputs/"
                                      . "$N->{outputId}/logs");
ok((grep { $_->{message} =~ /no-such-host\.invalid does not resolve/ }
    @{ $logs->{logs} }), 'and logged') or diag(json_encode($logs));

$udp->stop;
$maker->stop;
$t->finish;
done_testing;
