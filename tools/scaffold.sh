scaffold () 
{ 
    local dir=$1 name=$2 tags=$3;
    mkdir -p $dir/src;
    cp libs/testing/vitest.config.ts libs/testing/tsconfig.json libs/testing/tsconfig.build.json $dir/;
    sed "s#@conveyor/testing#@conveyor/$name#" libs/testing/package.json > $dir/package.json;
    sed -e "s#\"name\": \"testing\"#\"name\": \"$name\"#" -e "s#libs/testing/src#$dir/src#" -e "s#\"tags\": \[.*\]#\"tags\": [$tags]#" -e "s#\"projectType\": \"library\"#\"projectType\": \"$([[ $dir == apps/* ]] && echo application || echo library)\"#" libs/testing/project.json > $dir/project.json
}
