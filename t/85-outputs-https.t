#!/usr/bin/perl
# Outputs over TLS against local receivers with self-signed certificates:
# a webhook to https:// and MQTT to ssl:// are refused by default (the
# certificate is checked against the system's CA certificates), logged and
# retried; with iot_outputs_ca_file naming a file that holds those
# certificates, a reload delivers what waited, once and in order, with
# basic auth and the custom header over https.  A receiver whose
# certificate is not in that file stays refused.  A CA file that cannot be
# read stops nginx from starting.

use strict;
use warnings;
use Test::More;
use IO::Socket::INET;
use MIME::Base64 qw(decode_base64 encode_base64);
use lib 't/lib';
use IoT::Test;
use IoT::Collections;
use IoT::JSON;
use IoT::Radius qw(radclient);
use IoT::Sink;

plan skip_all => 'radclient is not installed' unless -x '/usr/bin/radclient';
plan skip_all => 'HTTP::Daemon is not installed'
    unless eval { require HTTP::Daemon; 1 };
plan skip_all => 'IO::Socket::SSL is not installed'
    unless eval { require IO::Socket::SSL; 1 };
plan skip_all => 'openssl is not installed' unless -x '/usr/bin/openssl';
plan skip_all => 'mosquitto is not installed'
    unless -x '/usr/sbin/mosquitto' && -x '/usr/bin/mosquitto_sub';

my $SECRET = 'https-secret';
my $acct = IoT::Test::free_port('udp');
my $up = IoT::Test::free_port('udp');
my $main = "iot_outputs_private_destinations on;\n";

my $t = IoT::Test->new(workers => 2, main_conf => $main,
                       stream_conf => <<"EOF");
    iot_radius_gateway name=pgw1 from=127.0.0.0/8 secret=$SECRET pool=10.64.0.0/16;
    server { listen 127.0.0.1:$acct udp; iot_radius; }
    server { listen 127.0.0.1:$up udp reuseport; iot_uplink; }
EOF
my $api = IoT::Collections->new($t);
$t->start;

my $hook = IoT::Sink->http($t, undef, tls => 1);
my $other = IoT::Sink->http($t, undef, tls => 1);    # not trusted later
my $mq = IoT::Sink->mqtt($t, 'iot/tls', tls => 1);

my $cid = $api->create_collection->{collectionId};
my $d = $api->create_device($cid);
my ($exit, $out) = radclient($acct, 'acct', $SECRET,
    "Acct-Status-Type = Start, Framed-IP-Address = 127.0.0.70, "
    . "3GPP-IMSI = \"$d->{imsi}\", Acct-Session-Id = \"h1\"",
    dir => $t->dir);
like($out, qr/Received Accounting-Response/, 'device attached');
my $sock = IO::Socket::INET->new(LocalAddr => '127.0.0.70', LocalPort => 0,
                                 Proto => 'udp') or die $!;

my $seq = 0;
sub uplink {
    my $p = 'tls-' . ++$seq;
    $sock->send($p, 0, pack_sockaddr_in($up, inet_aton('127.0.0.1')));
    select(undef, undef, undef, 0.002);
    return $p;
}

sub status {
    my ($oid) = @_;
    my (undef, $j) = $api->call(GET => "/collections/$cid/outputs/$oid/status");
    return $j // {};
}

sub logs {
    my ($oid) = @_;
    my (undef, $j) = $api->call(GET => "/collections/$cid/outputs/$oid/logs");
    return @{ ($j // {})->{logs} // [] };
}

# the payloads a webhook receiver took, in order
sub hooked {
    my ($sink) = @_;
    my @p;
    for my $r ($sink->received) {
        my $j = json_decode($r->{body});
        push @p, map { decode_base64($_->{payload}) } @{ $j->{messages} }
            if $j && ref $j->{messages} eq 'ARRAY';
    }
    return @p;
}

sub published { map { decode_base64($_->{payload} // '') } $mq->received }

my %oid;
for my $o (
    [ hook => { type => 'webhook', config => {
        url => "https://127.0.0.1:$hook->{port}/in",
        basicAuthUser => 'tls-user', basicAuthPass => 'tls:pass',
        customHeaderName => 'X-Tls-Key', customHeaderValue => 'v-9' } } ],
    [ other => { type => 'webhook', config => {
        url => "https://localhost:$other->{port}/in" } } ],
    [ mqtt => { type => 'mqtt', config => {
        endpoint => "ssl://127.0.0.1:$mq->{tls_port}",
        topicName => 'iot/tls' } } ])
{
    my ($name, $body) = @$o;
    my ($s, $j) = $api->call(POST => "/collections/$cid/outputs",
                             body => $body);
    is($s, 201, "$name: output made");
    $oid{$name} = $j->{outputId};
}

# ------------------------------------------- self-signed: refused by default

sleep 2;    # the deliverer takes the new outputs up
my @sent = map { uplink() } 1 .. 5;

for my $name (sort keys %oid) {
    ok(wait_until(sub { (status($oid{$name})->{errorCount} // 0) >= 1 }, 60),
       "$name: the self-signed certificate is refused");
    ok((grep { $_->{message} =~ /certificate|verify|TLS|SSL/i }
        logs($oid{$name})), "$name: the log says why")
        or diag(json_encode([logs($oid{$name})]));
    is(status($oid{$name})->{forwarded}, 0, "$name: nothing forwarded");
}
is(scalar(() = $hook->received), 0, 'the https receiver got nothing');
is(scalar(() = $other->received), 0, 'the other https receiver got nothing');
is(scalar(() = published()), 0, 'the broker got nothing');

# ------------------------------- iot_outputs_ca_file: trusted, then delivered

my $bundle = $t->dir . '/outputs-ca.pem';
{
    open my $fh, '>', $bundle or die "$bundle: $!";
    for my $f ($hook->{crt}, $mq->{crt}) {
        open my $in, '<', $f or die "$f: $!";
        local $/;
        print $fh scalar <$in>;
    }
    close $fh;
}
$t->reload(main_conf => $main . "iot_outputs_ca_file $bundle;\n");

push @sent, map { uplink() } 1 .. 5;

ok(wait_until(sub { hooked($hook) >= @sent }, 90),
   'webhook over https: what waited and what came, delivered')
    or diag(scalar(hooked($hook)) . ' of ' . scalar(@sent));
is_deeply([hooked($hook)], \@sent, 'webhook over https: once, in order');

my @req = $hook->received;
ok(@req >= 1, 'requests received');
is(scalar(grep { ($_->{headers}{authorization} // '') eq
                 'Basic ' . encode_base64('tls-user:tls:pass', '') } @req),
   scalar @req, 'basic auth over https on every request');
is(scalar(grep { ($_->{headers}{'x-tls-key'} // '') eq 'v-9' } @req),
   scalar @req, 'the custom header over https');
is(scalar(grep { $_->{method} eq 'POST' && $_->{path} eq '/in' } @req),
   scalar @req, 'POSTs to the path of the URL');
ok(wait_until(sub { (status($oid{hook})->{forwarded} // 0) == @sent }, 30),
   'webhook over https: counted as forwarded');

ok(wait_until(sub { published() >= @sent }, 90),
   'MQTT over ssl:// trusted through the file: delivered')
    or diag(scalar(published()) . ' of ' . scalar(@sent));
is_deeply([published()], \@sent, 'MQTT over ssl://: once, in order');

# a certificate that is not in the file stays refused
my $before = status($oid{other})->{errorCount} // 0;
ok(wait_until(sub { (status($oid{other})->{errorCount} // 0) > $before }, 90),
   'another self-signed receiver: still refused');
is(scalar(() = $other->received), 0, 'it got nothing');
is(status($oid{other})->{forwarded}, 0, 'nothing forwarded to it');

$hook->stop;
$other->stop;
$mq->stop;
$t->finish;

# ------------------------------------------------- a file that is not there

my $bad = IoT::Test->new(
    main_conf => "iot_outputs_ca_file " . $t->dir . "/no-such-ca.pem;\n");
my $st = $bad->start_should_fail;
ok(defined $st && $st != 0, 'a CA file that is not there: nginx does not start');
like($bad->log_slice, qr/\[emerg\][^\n]*iot_outputs_ca_file[^\n]*cannot be read/,
     'the [emerg] says why');

done_testing;
