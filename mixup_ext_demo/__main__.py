from mixup_ext_demo.demo import main

main()
