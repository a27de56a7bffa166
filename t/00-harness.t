#!/usr/bin/perl
# The harness itself, on plain nginx without the module: start, worker list,
# cross-worker requests, reload, kill -9 of a worker, restart, log checks.
# If this file fails, the others cannot be trusted.

use strict;
use warnings;
use Test::More;
use lib 't/lib';
use IoT::Test;
use IoT::Client;
use IoT::JSON;

my $t = IoT::Test->new(
    module   => 0,
    workers  => 2,
    location => <<'EOF',
        location / {
            default_type application/json;
            return 200 '{"ok":true}';
        }
EOF
);
my $api = IoT::Client->new($t);
$t->start;

my ($st, $j, $h) = $api->call(GET => '/');
is($st, 200, 'plain nginx answers');
is_deeply(plain($j), { ok => 1 }, 'JSON body decoded');
like($h->{'x-worker'} // '', qr/^\d+$/, 'X-Worker header carries a pid');

my @w = $t->workers;
is(scalar @w, 2, 'two workers found');

my $all = $api->req_all_workers(GET => '/');
is_deeply([ sort { $a <=> $b } grep { /^\d+$/ } keys %$all ], \@w,
          'requests reach every worker (reuseport spreads connections)');

my $first = $api->req(GET => '/');
my $other = $api->req_other_worker($first->{worker}, GET => '/');
ok($other && $other->{worker} != $first->{worker},
   'a request can be sent to another worker');

my @after = $t->reload;
is(scalar @after, 2, 'two workers after reload');
ok(!(grep { my $a = $_; grep { $_ == $a } @w } @after),
   'reload replaced the workers');
is(($api->call(GET => '/'))[0], 200, 'answers after reload');

my $victim = $after[0];
my @new = $t->kill_worker($victim);
is(scalar @new, 2, 'worker respawned after kill -9');
ok(!(grep { $_ == $victim } @new), 'killed worker is gone');
is(($api->call(GET => '/'))[0], 200, 'answers after kill -9');
like($t->log_slice, qr/\[alert\].*exited on signal 9/,
     'nginx logged the killed worker');
$t->check_log('kill -9', allow => [qr/exited on signal 9/]);

my $raw = $t->raw_request("GET / HTTP/1.0\r\nHost: x\r\n\r\n");
my ($rst, $rh, $rbody) = IoT::Test::parse_response($raw);
is($rst, 200, 'raw request answered');
is($rbody, '{"ok":true}', 'raw request body');

$t->restart;
is(($api->call(GET => '/'))[0], 200, 'answers after restart');

# the log check must be able to fail
open my $fh, '>>', $t->error_log_file or die;
print $fh "2024/01/01 00:00:00 [alert] 1#1: planted line\n";
close $fh;
my $slice = $t->log_slice;
like($slice, qr/planted line/, 'log slice sees new lines');

my @problems = $t->log_problems;
is(scalar @problems, 1, 'the log check reports a planted [alert]');
is(scalar $t->log_problems(allow => [qr/planted/]), 0,
   'an allowed line is not reported');
$t->log_mark;

$t->finish;
done_testing;
