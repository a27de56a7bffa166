#!/usr/bin/perl
# GET / and /system, authentication, unknown paths, wrong methods, the shape
# of every error answer.

use strict;
use warnings;
use Test::More;
use lib 't/lib';
use IoT::Test;
use IoT::Collections;
use IoT::JSON;

my $t = IoT::Test->new(location => <<'EOF');
        location / { iot_api collections; }
        location /nbiot/ { iot_api collections; }
        location /plain/ { default_type text/plain; return 200 'plain'; }
EOF
my $api = IoT::Collections->new($t);
$t->start;

like($t->admin_token, qr/^[0-9a-f]{64}\z/i,
     'admin token file holds 64 hex characters');

# ---- GET /
{
    my ($st, $j, $h) = $api->call(GET => '/');
    is($st, 200, 'GET / is 200');
    like($h->{'content-type'} // '', qr{^application/json\b}i,
         'GET /: JSON content type');
    is_deeply($j, { collections => '/collections', tokens => '/tokens',
                    system => '/system' }, 'GET /: the link map');
}

# ---- GET /system
{
    my ($st, $j) = $api->call(GET => '/system');
    is($st, 200, 'GET /system is 200');
    for my $k (qw(version buildDate releaseName)) {
        ok($j && defined $j->{$k} && !ref $j->{$k}, "/system: $k is a string");
    }
    for my $k (qw(defaultFieldMask forcedFieldMask)) {
        my $m = $j ? $j->{$k} : undef;
        ok(ref $m eq 'HASH', "/system: $k is an object");
        for my $f (qw(imsi imei msisdn location)) {
            ok(ref $m eq 'HASH' && is_bool_value($m->{$f}),
               "/system: $k.$f is a boolean");
        }
    }
}

# ---- authentication
is_error([$api->call(GET => '/', token => undef)], 401, 'GET / without token');
is_error([$api->call(GET => '/collections', token => undef)], 401,
         'GET /collections without token');
is_error([$api->call(POST => '/collections', token => undef, body => {})], 401,
         'POST /collections without token');
is_error([$api->call(GET => '/system', token => '')], 401, 'empty token');
is_error([$api->call(GET => '/collections', token => 'f' x 64)], 401,
         'unknown 64-hex token');
is_error([$api->call(GET => '/collections', token => 'nonsense')], 401,
         'unknown short token');
is_error([$api->call(GET => '/collections',
                     token => substr($t->admin_token, 0, 63) . 'x')], 401,
         'admin token with last character changed');
is_error([$api->call(GET => '/collections',
                     token => substr($t->admin_token, 0, 12))], 401,
         'prefix of the admin token is not a token');
is_error([$api->call(GET => '/collections', token => $t->admin_token . '0')],
         401, 'admin token with a character appended');
{
    my ($st) = $api->call(GET => '/collections', token => uc $t->admin_token);
    # hex digits only: upper case is a different string; either it is
    # refused (401) or accepted as the same token (200), never anything else
    like($st, qr/^(200|401)\z/, 'admin token in upper case: 200 or 401');
}
is(($api->call(GET => '/collections'))[0], 200, 'admin token works');

# ---- unknown paths
for my $p ('/nope', '/collectionsx', '/collections/x/y/z/w/v',
           '/system/x', '/tokens/abc/def', '/COLLECTIONS') {
    is_error([$api->call(GET => $p)], 404, "GET $p");
}
{
    my ($st, $c) = $api->call(POST => '/collections', body => {});
    is($st, 201, 'collection made for path tests');
    my $cid = $c->{collectionId};
    is_error([$api->call(GET => "/collections/$cid/nope")], 404,
             'GET /collections/{cid}/nope');
    is_error([$api->call(GET => "/collections/$cid/devices/x/y/z")], 404,
             'GET deep unknown device path');

    # ---- wrong methods
    my @cases = (
        [ PUT    => '/',                        [qw(GET)] ],
        [ POST   => '/',                        [qw(GET)] ],
        [ DELETE => '/system',                  [qw(GET)] ],
        [ PUT    => '/collections',             [qw(GET POST)] ],
        [ DELETE => '/collections',             [qw(GET POST)] ],
        [ POST   => "/collections/$cid",        [qw(GET PATCH DELETE)] ],
        [ PUT    => "/collections/$cid",        [qw(GET PATCH DELETE)] ],
        [ PATCH  => "/collections/$cid/devices", [qw(GET POST)] ],
        [ DELETE => "/collections/$cid/tags",   [qw(GET PATCH)] ],
        [ POST   => "/collections/$cid/tags/x", [qw(GET PATCH DELETE)] ],
        [ PUT    => '/tokens',                  [qw(GET POST)] ],
    );
    for my $c (@cases) {
        my ($m, $p, $allowed) = @$c;
        my @res = $api->call($m => $p, body => {});
        my $n = "$m " . ($p =~ s/$cid/{cid}/r);
        is_error(\@res, 405, $n);
        my %allow = map { uc($_) => 1 }
                    split /\s*,\s*/, ($res[2]{allow} // '');
        ok(!grep({ !$allow{$_} } @$allowed),
           "$n: Allow lists @$allowed") or diag("Allow: " . ($res[2]{allow} // '(none)'));
        ok(!$allow{$m}, "$n: Allow does not list $m");
    }
    is(($api->call(GET => "/collections/$cid"))[0], 200,
       'collection untouched by wrong methods');
}

# ---- paths are relative to the location
{
    my ($st, $c) = $api->call(POST => '/nbiot/collections',
                              body => { tags => { via => 'nbiot' } });
    is($st, 201, 'POST /nbiot/collections is 201');
    my $cid = $c ? $c->{collectionId} : 'none';
    my ($s2, $g) = $api->call(GET => "/collections/$cid");
    is($s2, 200, 'the same registry under / and under /nbiot/');
    is_deeply($g, $c, '... the same collection');
    is(($api->call(GET => "/nbiot/collections/$cid"))[0], 200,
       'GET /nbiot/collections/{cid}');
    is(($api->call(GET => '/nbiot/system'))[0], 200, 'GET /nbiot/system');
    is(($api->call(GET => '/nbiot/'))[0], 200, 'GET /nbiot/ is the root');
    is_error([$api->call(GET => '/nbiot/nope')], 404, 'GET /nbiot/nope');
    is_error([$api->call(GET => '/nbiot/collections', token => undef)], 401,
             'no token under /nbiot/');
    my ($s3, undef, $h, $raw) = $api->call(GET => '/plain/x', token => undef);
    is($s3, 200, 'a location without iot_api is not touched');
    is($raw, 'plain', '... and answers on its own');
    is(($api->call(DELETE => "/nbiot/collections/$cid"))[0], 204,
       'DELETE under /nbiot/');
}

# ---- error answers use the error format even without a token
{
    my @res = $api->call(PUT => '/nope', token => undef);
    ok(($res[0] == 401 || $res[0] == 404 || $res[0] == 405),
       'no token on an unknown path: an error status');
    is_error(\@res, $res[0], 'no token on an unknown path');
}

$t->finish;
done_testing;
