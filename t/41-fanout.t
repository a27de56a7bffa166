#!/usr/bin/perl
# Fan-out across workers: datagrams taken in by either worker (reuseport
# spreads the devices over them, and keeps each device on one) reach the
# WebSocket subscribers in every worker, each message once, in the order
# each device sent them; a device's own stream carries only that device.

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
use IoT::WebSocket;

plan skip_all => 'radclient is not installed' unless -x '/usr/bin/radclient';

my $SECRET = 'fanout-secret';
my $acct = IoT::Test::free_port('udp');
my $up = IoT::Test::free_port('udp');

my $t = IoT::Test->new(workers => 2, stream_conf => <<"EOF");
    iot_radius_gateway name=pgw1 from=127.0.0.0/8 secret=$SECRET pool=10.64.0.0/16;
    server { listen 127.0.0.1:$acct udp; iot_radius; }
    server { listen 127.0.0.1:$up udp reuseport; iot_uplink; }
EOF
my $api = IoT::Collections->new($t);
$t->start;

my $cid = $api->create_collection->{collectionId};

my @dev;
for my $i (0 .. 7) {
    my $d = $api->create_device($cid);
    push @dev, $d;
    my $addr = '127.0.0.' . (10 + $i);
    my ($exit, $out) = radclient($acct, 'acct', $SECRET,
        "Acct-Status-Type = Start, Framed-IP-Address = $addr, "
        . "3GPP-IMSI = \"$d->{imsi}\", Acct-Session-Id = \"s$i\"",
        dir => $t->dir);
    like($out, qr/Received Accounting-Response/, "device $i attached");
    $d->{addr} = $addr;
}

# collection streams until every worker has one, and one device stream
my (@subs, %on);
for (1 .. 40) {
    my $ws = IoT::WebSocket->connect(port => $t->port,
                                     path => "/collections/$cid/from",
                                     token => $t->admin_token);
    next unless $ws->{status} == 101;
    my $w = $ws->{headers}{'x-worker'} // '?';
    push @subs, { ws => $ws, worker => $w };
    $on{$w}++;
    last if keys %on >= 2 && @subs >= 3;
}
cmp_ok(scalar keys %on, '>=', 2, 'collection streams open in both workers')
    or diag(join ',', keys %on);

my $one = IoT::WebSocket->connect(port => $t->port,
                                  path => "/collections/$cid/devices/$dev[2]{deviceId}/from",
                                  token => $t->admin_token);
is($one->{status}, 101, 'a device stream');

# 120 datagrams, 15 per device, each device from its own socket as a real
# one does (reuseport hashes the devices over the workers)
my @sock = map {
    IO::Socket::INET->new(LocalAddr => $_->{addr}, LocalPort => 0,
                          Proto => 'udp') or die $!
} @dev;
my @sent;
for my $n (1 .. 15) {
    for my $i (0 .. 7) {
        my $p = "dev$i-msg$n";
        $sock[$i]->send($p, 0, pack_sockaddr_in($up, inet_aton('127.0.0.1')));
        push @sent, [ $i, $p ];
        select(undef, undef, undef, 0.002);
    }
}

sub collect {
    my ($ws, $want) = @_;
    my @got;
    while (@got < $want) {
        my $f = $ws->recv_frame;
        last unless $f;
        next unless $f->{opcode} == 1;
        my $m = json_decode($f->{payload});
        next unless $m && $m->{type} eq 'data';
        push @got, $m;
    }
    return @got;
}

my %workers_seen;
for my $s (@subs) {
    my @got = collect($s->{ws}, scalar @sent);
    my @payloads = map { decode_base64($_->{payload}) } @got;
    is(scalar @payloads, scalar @sent,
       "subscriber in worker $s->{worker}: every message");
    my %count;
    $count{$_}++ for @payloads;
    ok(!(grep { $_ != 1 } values %count), '... each once');
    for my $i (0 .. 7) {
        my @mine = grep { /^dev$i-/ } @payloads;
        is_deeply(\@mine, [ map { $_->[1] } grep { $_->[0] == $i } @sent ],
                  "... device $i in the order it sent");
    }
    $workers_seen{ $_->{device}{deviceId} } = 1 for @got;
}

my @only = collect($one, 15);
is(scalar @only, 15, 'the device stream got its 15');
ok(!(grep { $_->{device}{deviceId} ne $dev[2]{deviceId} } @only),
   '... and nothing of the other devices');

$_->{ws}->send_close(1000) for @subs;
$one->send_close(1000);

$t->check_log('fanout');
$t->finish;
done_testing;
