#!/usr/bin/perl
# Secrets stay out of what other local users can read: tokens given in URLs
# (?api_token=, /tokens/{token}) are redacted in the access and error logs,
# whether the request is answered or refused, and the store's files are for
# nginx's user alone.

use strict;
use warnings;
use Test::More;
use lib 't/lib';
use IoT::Test;
use IoT::Collections;

my $t = IoT::Test->new(workers => 2,
                       server_conf => 'access_log logs/access.log;');
my $api = IoT::Collections->new($t);
$t->start;

my $cid = $api->create_collection->{collectionId};
my $w = $api->create_token({ resource => '/', write => \1 })->{token};
my $r = $api->create_token({ resource => "/collections/$cid" })->{token};
my $admin = $t->admin_token;

my @r = $api->call(GET => "/collections/$cid/from?api_token=$w", token => undef);
is($r[0], 400, 'a write token in ?api_token= is refused');
@r = $api->call(GET => "/collections/$cid/from?x=1&api_token=$r&y=2", token => undef);
isnt($r[0], 401, 'a read-only token in ?api_token= is taken');
@r = $api->call(GET => "/collections?api_token=$admin", token => undef);
is($r[0], 401, '?api_token= where it is not taken: 401');
@r = $api->call(GET => "/tokens/$w");
is($r[0], 200, 'GET /tokens/{token} with the admin token');
@r = $api->call(GET => "/tokens/$admin", token => 'f' x 64);
is($r[0], 401, 'GET /tokens/{admin token} with an unknown token: 401');
@r = $api->call(DELETE => "/tokens/$r", token => $r);
is($r[0], 403, 'a read-only token cannot delete itself');

for my $suffix ('', '-wal', '-shm', '-history') {
    my $f = $t->dir . "/var/iot.db$suffix";
    ok(-e $f, "iot.db$suffix exists while it runs") or next;
    my $mode = (stat $f)[2] & 07777;
    is($mode & 077, 0, "iot.db$suffix is for its owner alone")
        or diag(sprintf '%04o', $mode);
}

$t->stop;

sub slurp {
    open my $fh, '<', $_[0] or return '';
    local $/;
    return <$fh> // '';
}

my $access = slurp($t->dir . '/logs/access.log');
# (nginx's own debug lines show everything a request carries: an operator
# who turns them on has chosen to see that)
my $error = join "\n", grep { !/\[debug\]/ } split /\n/, $t->read_log(0);
my $n = () = $access =~ /\[redacted\]/g;
is($n, 6, 'each of the six URLs has its token redacted in the access log')
    or diag($access);
like($access, qr{GET /collections/\Q$cid\E/from\?x=1&api_token=\[redacted\]&y=2 },
     '... in place, the rest of the URL kept');
for my $tok ([ write => $w ], [ 'read-only' => $r ], [ admin => $admin ]) {
    unlike($access, qr/\Q$tok->[1]\E/i, "the $tok->[0] token is not in the access log");
    unlike($error, qr/\Q$tok->[1]\E/i, "... nor in the error log");
}

done_testing;
