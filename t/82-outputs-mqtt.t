#!/usr/bin/perl
# An MQTT output against a local mosquitto broker (its own config, a free
# loopback port) read by mosquitto_sub: each data message published as the
# collections dialect's JSON at QoS 1 to topicName, each once, in each
# device's order; with the broker gone, errors are counted and logged and
# the messages wait; once it is back they are published.

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
plan skip_all => 'mosquitto is not installed'
    unless -x '/usr/sbin/mosquitto' && -x '/usr/bin/mosquitto_sub';

my $SECRET = 'mqtt-secret';
my $acct = IoT::Test::free_port('udp');
my $up = IoT::Test::free_port('udp');

my $t = IoT::Test->new(workers => 2, main_conf => <<"EOF", stream_conf => <<"EOF2");
iot_outputs_private_destinations on;
EOF
    iot_radius_gateway name=pgw1 from=127.0.0.0/8 secret=$SECRET pool=10.64.0.0/16;
    server { listen 127.0.0.1:$acct udp; iot_radius; }
    server { listen 127.0.0.1:$up udp reuseport; iot_uplink; }
EOF2
my $api = IoT::Collections->new($t);
$t->start;

my $mq = IoT::Sink->mqtt($t, 'iot/out', tls => 1);

my $cid = $api->create_collection->{collectionId};

my @dev;
for my $i (0 .. 1) {
    my $d = $api->create_device($cid);
    my $addr = '127.0.0.' . (40 + $i);
    my ($exit, $out) = radclient($acct, 'acct', $SECRET,
        "Acct-Status-Type = Start, Framed-IP-Address = $addr, "
        . "3GPP-IMSI = \"$d->{imsi}\", Acct-Session-Id = \"m$i\"",
        dir => $t->dir);
    like($out, qr/Received Accounting-Response/, "device $i attached");
    $d->{sock} = IO::Socket::INET->new(LocalAddr => $addr, LocalPort => 0,
                                       Proto => 'udp') or die $!;
    push @dev, $d;
}

my $seq = 0;
sub uplink {
    my ($i) = @_;
    my $p = "d$i-" . ++$seq;
    $dev[$i]{sock}->send($p, 0, pack_sockaddr_in($up, inet_aton('127.0.0.1')));
    select(undef, undef, undef, 0.002);
    return $p;
}

sub published { map { decode_base64($_->{payload}) } $mq->received }

sub status {
    my ($oid) = @_;
    my (undef, $j) = $api->call(GET => "/collections/$cid/outputs/$oid/status");
    return $j // {};
}

my ($so, $O) = $api->call(POST => "/collections/$cid/outputs", body => {
    type => 'mqtt',
    config => { endpoint => "tcp://127.0.0.1:$mq->{port}",
                topicName => 'iot/out', clientId => undef } });
is($so, 201, 'mqtt output made');
my $oid = $O->{outputId};

my @sent = (uplink(0));
ok(wait_until(sub { published() >= 1 }, 30), 'first message published');

push @sent, map { uplink($_ % 2) } 1 .. 40;
ok(wait_until(sub { published() >= @sent }, 60), 'all published')
    or diag(scalar(published()) . ' of ' . scalar(@sent));
my @got = published();
is(scalar @got, scalar @sent, 'each once');
for my $i (0 .. 1) {
    is_deeply([grep { /^d$i-/ } @got], [grep { /^d$i-/ } @sent],
              "device $i in its order");
}
my ($m) = $mq->received;
is($m->{type}, 'data', 'the data message as JSON');
is($m->{device}{deviceId}, $dev[0]{deviceId}, 'with its device');
is($m->{device}{collectionId}, $cid, 'of the collection');
# the round stores its counts once the broker has acknowledged
ok(wait_until(sub { (status($oid)->{forwarded} // 0) == @sent }, 30),
   'status: forwarded');

# a burst: batches of 100 publishes wait for their 100 PUBACKs (in real
# time: the wait once counted loop calls, gave up early and published
# again what had been acknowledged)
my $errors0 = status($oid)->{errorCount};
my $before0 = () = published();
my @burst = map { uplink(0) } 1 .. 2000;
ok(wait_until(sub { published() >= $before0 + @burst }, 120),
   'a burst of 2000 published');
sleep 2;
@got = published();
is_deeply([@got[$before0 .. $#got]], \@burst, 'each once, in order');
is(status($oid)->{errorCount}, $errors0, 'no error');

# the broker goes away: errors, then delivery once it is back

$mq->stop_broker;
my $errors = status($oid)->{errorCount};
my @waiting = map { uplink($_ % 2) } 1 .. 6;
ok(wait_until(sub { (status($oid)->{errorCount} // 0) > $errors }, 60),
   'a broker that is gone is an error');
my (undef, $logs) = $api->call(GET => "/collections/$cid/outputs/$oid/logs");
ok((grep { $_->{message} =~ /tcp:\/\/127\.0\.0\.1:$mq->{port}/ }
    @{ $logs->{logs} }), 'logged with the endpoint')
    or diag(json_encode($logs));

my $before = () = published();
$mq->start_broker;
ok(wait_until(sub { published() >= $before + @waiting }, 120),
   'published once the broker is back');
sleep 2;
@got = published();
is_deeply([sort @got[$before .. $#got]], [sort @waiting],
          'what waited, each once');
for my $i (0 .. 1) {
    is_deeply([grep { /^d$i-/ } @got[$before .. $#got]],
              [grep { /^d$i-/ } @waiting], "device $i in its order");
}
ok(status($oid)->{retries} >= 1, 'status counts the retries');

# ssl://: the broker's certificate is checked (a self-signed one is
# refused) unless disableCertCheck

my ($s1, $V) = $api->call(PATCH => "/collections/$cid/outputs/$oid", body => {
    config => { endpoint => "ssl://127.0.0.1:$mq->{tls_port}",
                topicName => 'iot/out' } });
is($s1, 200, 'the output over TLS, certificate checked');
sleep 1;    # a round under way still has the old config
$errors = status($oid)->{errorCount};
$before = () = published();
my @tls = map { uplink(0) } 1 .. 3;
ok(wait_until(sub { (status($oid)->{errorCount} // 0) > $errors }, 60),
   'a certificate that does not verify is a failure');
(undef, $logs) = $api->call(GET => "/collections/$cid/outputs/$oid/logs");
ok((grep { $_->{message} =~ /ssl:\/\/127\.0\.0\.1:$mq->{tls_port}/ }
    @{ $logs->{logs} }), 'logged') or diag(json_encode($logs));
is(scalar(() = published()), $before, 'nothing published unchecked');

my ($s2) = $api->call(PATCH => "/collections/$cid/outputs/$oid", body => {
    config => { endpoint => "ssl://127.0.0.1:$mq->{tls_port}",
                topicName => 'iot/out', disableCertCheck => JTRUE } });
is($s2, 200, 'disableCertCheck');
sleep 1;
ok(wait_until(sub { published() >= $before + @tls }, 120),
   'published over TLS without the check');
@got = published();
is_deeply([@got[$before .. $#got]], \@tls, 'what waited, once, in order');

$mq->stop;
$t->finish;
done_testing;
