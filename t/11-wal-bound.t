#!/usr/bin/perl
# The store's write-ahead log stays bounded under sustained writes: devices
# are created at full speed from several clients while the size of the
# store's -wal file is sampled, and it never passes the documented bound
# (docs/configuration.md, "The write-ahead log": under 32 MB).  Without the
# writer's restart the log grew by about 20 KB per creation, without end.

use strict;
use warnings;
use Test::More;
use IO::Socket::INET;
use Time::HiRes ();
use lib 't/lib';
use IoT::Test;
use IoT::Collections;

plan skip_all => 'too slow under valgrind' if $ENV{IOT_TEST_VALGRIND};

my $BOUND = 32 * 1024 * 1024;
my $CLIENTS = 4;
my $EACH = 4000;           # 16,000 creations: over 300 MB of log unbounded

my $t = IoT::Test->new(workers => 2, zone => '64m');
my $api = IoT::Collections->new($t);
$t->start;

my ($st, $C) = $api->call(POST => '/collections', body => {});
is($st, 201, 'collection made');
my $cid = $C->{collectionId};

my $wal = $t->dir . '/var/iot.db-wal';
my $done = $t->dir . '/var/creators-done';

my $res = $t->parallel($CLIENTS + 1, sub {
    my ($i) = @_;

    if ($i > $CLIENTS) {
        # the sampler: the largest size the log's file had
        my ($max, $n) = (0, 0);
        while (1) {
            my $size = -s $wal // 0;
            $max = $size if $size > $max;
            $n++;
            my @d = glob("$done.*");
            last if @d >= $CLIENTS;
            Time::HiRes::sleep(0.02);
        }
        return ("max $max", "samples $n");
    }

    # one keep-alive connection, each request in one write (no waiting
    # for delayed acknowledgements between headers and body)
    # (nginx closes it after keepalive_requests: then another one)
    my $sock;
    my $token = $t->admin_token;
    my ($ok, $bad, $tries) = (0, 0, 0);
    for my $n (1 .. $EACH) {
        $sock //= IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                        PeerPort => $t->port, Proto => 'tcp',
                                        Timeout => 30) or die "connect: $!";
        my $seq = $i * 1000000 + $n;
        my $body = IoT::JSON::json_encode({
            imsi => sprintf('24202%010d', $seq),
            imei => sprintf('35266%010d', $seq) });
        print $sock "POST /collections/$cid/devices HTTP/1.1\r\n"
                  . "Host: 127.0.0.1\r\nX-API-Token: $token\r\n"
                  . "Content-Type: application/json\r\n"
                  . "Content-Length: " . length($body) . "\r\n\r\n$body";
        my ($status, $len);
        while (my $line = <$sock>) {
            $status //= ($line =~ m{^HTTP/1\.1 (\d+)})[0];
            $len = $1 if $line =~ /^Content-Length:\s*(\d+)/i;
            last if $line eq "\r\n";
        }
        if (!defined $status) {
            undef $sock;
            last if ++$tries > 100;
            redo;
        }
        read($sock, my $ignored, $len) if $len;
        $status == 201 ? $ok++ : $bad++;
    }
    $bad += $EACH - $ok - $bad;
    open my $fh, '>', "$done.$i" or die $!;
    close $fh;
    return ("ok $ok", "bad $bad");
});

my ($ok, $bad) = (0, 0);
for my $i (0 .. $CLIENTS - 1) {
    my %r = map { split / /, $_, 2 } @{ $res->[$i] };
    $ok += $r{ok} // 0;
    $bad += $r{bad} // 0;
}
is($ok, $CLIENTS * $EACH, "$ok devices created");
is($bad, 0, 'no creation failed');

my %s = map { split / /, $_, 2 } @{ $res->[$CLIENTS] };
cmp_ok($s{samples}, '>', 10, "the log was sampled ($s{samples} times)");
cmp_ok($s{max}, '<', $BOUND,
       sprintf('the log stayed under 32 MB (largest: %.1f MB)',
               $s{max} / 1048576));
cmp_ok(-s $wal // 0, '<', $BOUND, 'and is under it at the end');

# everything is there: the zone and the store agree
my ($ls, $L) = $api->call(GET => "/collections/$cid/devices?limit=1");
is($ls, 200, 'list');

$t->restart;
my ($gs, $G) = $api->call(GET => "/collections/$cid/devices?limit=0");
is($gs, 200, 'list after a restart');
is(scalar @{ $G->{devices} || [] }, $CLIENTS * $EACH,
   'every device is in the store');

$t->check_log('wal');
$t->finish;
done_testing;
